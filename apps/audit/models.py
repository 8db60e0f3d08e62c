from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


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

    created_at = models.DateTimeField(auto_now_add=True, db_index=True, verbose_name=_("created at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("actor"),
    )
    # "user" for a person, otherwise the system component that acted ("system", "task:leases.sweep", ...).
    actor_label = models.CharField(max_length=100, verbose_name=_("actor label"))
    action = models.CharField(max_length=100, db_index=True, verbose_name=_("action"))
    target_type = models.CharField(max_length=100, blank=True, verbose_name=_("target type"))
    target_id = models.CharField(max_length=64, blank=True, verbose_name=_("target id"))
    before = models.JSONField(null=True, blank=True, verbose_name=_("before"))
    after = models.JSONField(null=True, blank=True, verbose_name=_("after"))
    ip = models.GenericIPAddressField(null=True, blank=True, verbose_name=_("ip"))
    request_id = models.CharField(max_length=128, blank=True, verbose_name=_("request id"))
    task_id = models.CharField(max_length=64, blank=True, verbose_name=_("task id"))
    # Set when a privacy erasure replaced personal values in `before`/`after` (and the person's IP) by keyed hashes,
    # or when migration audit 0006 replaced the phone numbers of an entry written before they were hashed.
    redacted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("redacted at"))

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
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
