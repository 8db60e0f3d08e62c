from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The append-only audit log of every state-changing action by a person or the system."""

    name = "apps.audit"
    verbose_name = _("Audit")
    label = "audit"

    def ready(self) -> None:
        from apps.audit import admin_trail

        admin_trail.connect()
