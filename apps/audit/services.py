"""Writing the audit log. Every service that changes state calls `audit_record` inside its own transaction, so
the entry is committed exactly when the change is."""

import ipaddress
from typing import Any

from django.db import models
from django.utils.encoding import force_str

from apps.audit.models import AuditLog
from apps.audit.pseudonyms import pseudonymise
from apps.core.context import client_ip_var, request_id_var, task_id_var

SYSTEM = "system"


def audit_record(
    *,
    actor: Any = None,
    action: str,
    target: models.Model | None = None,
    target_type: str = "",
    target_id: str | int = "",
    before: dict | None = None,
    after: dict | None = None,
    system_actor: str = SYSTEM,
) -> AuditLog:
    """Append one entry. `actor` is the acting user (None when the system acts: name it with `system_actor`).

    The request id, client IP and task id come from the current request or task context. Phone numbers in
    `before`/`after` are stored as their keyed hashes (apps.audit.pseudonyms).
    """
    if target is not None:
        target_type = target._meta.label_lower
        target_id = target.pk
    is_person = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditLog.objects.create(
        actor=actor if is_person else None,
        actor_label="user" if is_person else system_actor,
        action=action,
        target_type=target_type,
        target_id=force_str(target_id),
        before=pseudonymise(before),
        after=pseudonymise(after),
        ip=_valid_ip(client_ip_var.get()),
        request_id=request_id_var.get() or "",
        task_id=task_id_var.get() or "",
    )


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(value)) if value else None
    except ValueError:
        return None
