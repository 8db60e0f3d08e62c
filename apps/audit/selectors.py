"""Reads of the audit log for the back office."""

from apps.audit.models import AuditLog


def audit_latest(*, limit: int = 10) -> list[AuditLog]:
    """The newest entries, newest first, with their actors: one query on the `created_at` index, however long the
    log is (the admin index shows them on every visit)."""
    return list(AuditLog.objects.select_related("actor").order_by("-created_at", "-id")[:limit])
