"""The admin index's "Recent actions": services write the audit log (not Django's LogEntry), so show that."""

from typing import Any

from django import template

from apps.audit.selectors import audit_latest

register = template.Library()


@register.simple_tag(takes_context=True)
def latest_audit_entries(context: dict[str, Any], limit: int = 10) -> list:
    """The newest audit entries for staff allowed to read the audit log; nothing (and no query) for anyone else."""
    user = context["request"].user
    if not user.has_perm("audit.view_auditlog"):
        return []
    return audit_latest(limit=limit)
