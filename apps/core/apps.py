from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting pieces: errors, request context, logging, health, metrics, locks, the replica router."""

    name = "apps.core"
    label = "core"

    def ready(self) -> None:
        from apps.core import signals  # noqa: F401 - connects Celery signal handlers
