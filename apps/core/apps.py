import sys

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

# Imported with the app registry, before any app's metric has a value: it sets up prometheus_client's multi-process
# mode when PROMETHEUS_MULTIPROC_DIR is set.
from apps.core import metrics

# CPython's own default. py_ecc raises the limit to 100,000 when it is imported (see `restore_recursion_limit`).
RECURSION_LIMIT = 1000


def restore_recursion_limit() -> None:
    """Undo py_ecc's `sys.setrecursionlimit(100000)`, done when eth-account first imports it.

    The recursion limit is what stops C code that recurses (the JSON decoder, repr, pickle) before it overflows the
    thread's C stack; at 100,000 it no longer does, and deep input crashes the process with SIGSEGV instead of
    raising RecursionError. py_ecc is imported here, once, so that its change happens before ours and not later.
    """
    import py_ecc  # noqa: F401

    sys.setrecursionlimit(RECURSION_LIMIT)


class CoreConfig(AppConfig):
    """Cross-cutting pieces: errors, request context, logging, health, metrics, locks, the replica router."""

    name = "apps.core"
    verbose_name = _("Core")
    label = "core"

    def ready(self) -> None:
        from apps.core import checks, converters, signals  # noqa: F401 - signals connects Celery signal handlers

        converters.register()  # before any URLconf is imported
        metrics.register_live_collector(metrics.CeleryQueueCollector())

        restore_recursion_limit()
