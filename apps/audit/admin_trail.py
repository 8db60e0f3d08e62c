"""Every add, change and delete made through the admin writes an audit row in the same transaction.

Django's admin already writes a `LogEntry` inside the transaction of its add, change and delete views; an audit row
is written beside it, so an admin screen that edits a model directly (flags, limits, memberships, rules) can never
change state without a trace, whatever the ModelAdmin looks like. Services called by admin actions or by
`save_model` write their own, more specific row as well.

The multi-object "delete selected" action logs with `bulk_create` (no signal): `audited_delete_selected` writes
the rows for the objects it removed that the signal did not already cover.
"""

import json
from typing import Any

from django.contrib.admin import actions as admin_actions
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest
from django.utils import translation

from apps.audit.models import AuditLog
from apps.audit.pseudonyms import pseudonymise
from apps.audit.services import audit_record

VERBS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


def admin_action_name(label_lower: str, flag: int) -> str:
    """The audit action of an admin edit: `admin.<app_label>.<model>.added|changed|deleted`."""
    return f"admin.{label_lower}.{VERBS[flag]}"


def _changed_values(entry: LogEntry) -> dict[str, Any]:
    """The new values of the fields the change message names, read back from the saved object."""
    try:
        parts = json.loads(entry.change_message or "[]")
        # The admin names the form labels (in English), e.g. "Staff status" for `is_staff`.
        names = {str(name).lower() for part in parts for name in part.get("changed", {}).get("fields", [])}
        instance = entry.get_edited_object()
    except Exception:  # noqa: BLE001 - the values are a courtesy; the row is written without them
        return {}
    with translation.override(None):  # the message is written in English, whatever the staff member reads
        labels = {field.name: str(field.verbose_name).lower() for field in instance._meta.concrete_fields}
    values = {}
    for field in instance._meta.concrete_fields:
        if labels[field.name] in names or field.name in names:
            if field.name == "password":
                continue
            value = field.value_from_object(instance)
            values[field.name] = value if isinstance(value, (bool, int, str, type(None))) else str(value)
    return values


def log_entry_saving(sender: type, instance: LogEntry, **kwargs: Any) -> None:
    """Django's own admin log names the edited object (a user's name is their number) and, for inlines, its
    members: the numbers in it are kept as keyed hashes, as in the audit log."""
    instance.object_repr = pseudonymise(instance.object_repr or "")[:200]
    instance.change_message = pseudonymise(instance.change_message or "")


def log_entry_saved(sender: type, instance: LogEntry, created: bool, **kwargs: Any) -> None:
    if not created or instance.action_flag not in VERBS:
        return
    with translation.override(None):  # one language in the log, whichever the staff member reads
        message = instance.get_change_message()
    after: dict[str, Any] = {"message": message, "repr": instance.object_repr}
    if instance.action_flag == CHANGE:
        after["values"] = _changed_values(instance)
    audit_record(
        actor=instance.user,
        action=admin_action_name(instance.content_type.model_class()._meta.label_lower, instance.action_flag),
        target_type=instance.content_type.model_class()._meta.label_lower,
        target_id=instance.object_id or "",
        after=after,
    )


def audited_delete_selected(modeladmin: Any, request: HttpRequest, queryset: QuerySet) -> Any:
    """Django's "delete selected" action, plus an audit row for each object it removed (same transaction)."""
    label = queryset.model._meta.label_lower
    pks = [str(pk) for pk in queryset.values_list("pk", flat=True)]
    with transaction.atomic():
        last = AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
        last_logged = LogEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
        response = admin_actions.delete_selected(modeladmin, request, queryset)
        _pseudonymise_bulk_logged(after=last_logged, user=request.user)
        left = queryset.model._base_manager.filter(pk__in=pks).values_list("pk", flat=True)
        gone = set(pks) - {str(pk) for pk in left}
        action = admin_action_name(label, DELETION)
        covered = set(
            AuditLog.objects.filter(id__gt=last, action=action, target_id__in=gone).values_list("target_id", flat=True)
        )
        for pk in sorted(gone - covered):
            audit_record(actor=request.user, action=action, target_type=label, target_id=pk, after={"repr": ""})
    return response


def _pseudonymise_bulk_logged(*, after: int, user: Any) -> None:
    """Django logs the deletion of several objects with `bulk_create`, past `log_entry_saving`: the numbers in the
    names it wrote are replaced here, in the same transaction."""
    logged = LogEntry.objects.filter(id__gt=after, user_id=user.pk, action_flag=DELETION).only("id", "object_repr")
    for entry in logged:
        name = pseudonymise(entry.object_repr)[:200]
        if name != entry.object_repr:
            LogEntry.objects.filter(pk=entry.pk).update(object_repr=name)


audited_delete_selected.allowed_permissions = admin_actions.delete_selected.allowed_permissions
audited_delete_selected.short_description = admin_actions.delete_selected.short_description


def connect() -> None:
    """Called from the audit app's `ready()`."""
    from django.contrib import admin

    pre_save.connect(log_entry_saving, sender=LogEntry, dispatch_uid="audit.admin_log_entry_pseudonyms")
    post_save.connect(log_entry_saved, sender=LogEntry, dispatch_uid="audit.admin_log_entry")
    admin.site.add_action(audited_delete_selected, "delete_selected")
