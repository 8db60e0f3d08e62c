from django.apps import AppConfig


class AuditConfig(AppConfig):
    """The append-only audit log of every state-changing action by a person or the system."""

    name = "apps.audit"
    label = "audit"

    def ready(self) -> None:
        from apps.audit import admin_trail

        admin_trail.connect()
