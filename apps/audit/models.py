from typing import Any, NoReturn

from django.conf import settings
from django.db import models


class AppendOnlyError(RuntimeError):
    """Raised on any attempt to change or remove an audit entry."""


# What a privacy erasure may rewrite in an entry (apps.audit.redaction): the personal values in its payload and
# the person's client IP, and the time it did so. Who acted, what, on which object and when stay as written.
REDACTABLE_FIELDS = frozenset({"before", "after", "ip", "redacted_at"})


class AuditLogQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be changed.")

    def redact(self, **fields: Any) -> int:
        """The one write the log allows, for `apps.audit.redaction` only: REDACTABLE_FIELDS, with `redacted_at`
        set. On PostgreSQL the append-only trigger lets it through only inside that module's transaction."""
        if not fields.get("redacted_at") or not set(fields) <= REDACTABLE_FIELDS:
            raise AppendOnlyError(f"A redaction changes only {sorted(REDACTABLE_FIELDS)}, with redacted_at set.")
        return super().update(**fields)

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")


class AuditLog(models.Model):
    """One state-changing action by a person or the system: who, what, on which object, before and after.

    Append-only: the model refuses updates and deletes, and on PostgreSQL a trigger refuses them too. The one
    exception is a privacy erasure's redaction of personal values (`apps.audit.redaction`, docs/privacy.md).
    Written by `apps.audit.services.audit_record` inside the acting service's transaction.
    """

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # "user" for a person, otherwise the system component that acted ("system", "task:leases.sweep", ...).
    actor_label = models.CharField(max_length=100)
    action = models.CharField(max_length=100, db_index=True)
    target_type = models.CharField(max_length=100, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    task_id = models.CharField(max_length=64, blank=True)
    # Set when a privacy erasure replaced personal values in `before`/`after` (and the person's IP) by keyed hashes.
    redacted_at = models.DateTimeField(null=True, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id", "-created_at"], name="audit_target_idx"),
            models.Index(fields=["actor", "-created_at"], name="audit_actor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type}:{self.target_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise AppendOnlyError("Audit entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Audit entries cannot be deleted.")
