from django.apps import AppConfig

# Imported with the app registry, before any app's metric has a value: it sets up prometheus_client's multi-process
# mode when PROMETHEUS_MULTIPROC_DIR is set.
from apps.core import metrics  # noqa: F401


class CoreConfig(AppConfig):
    """Cross-cutting pieces: errors, request context, logging, health, metrics, locks, the replica router."""

    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core import signals  # noqa: F401 - connects Celery signal handlers
