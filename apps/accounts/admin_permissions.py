"""Permissions named in the staff member's language in the user and group forms.

Django stores each permission's name in English when it is created ("Can change message"), so its admin lists them
in English whatever the language. These forms name a permission from what it is instead: the app's and the model's
verbose names, and the action, all through gettext."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.models import Group, Permission
from django.db.models import ManyToManyField
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop

ACTIONS = {
    "add": gettext_noop("Can add %(model)s"),
    "change": gettext_noop("Can change %(model)s"),
    "delete": gettext_noop("Can delete %(model)s"),
    "view": gettext_noop("Can view %(model)s"),
}
# Permissions the project declares in a model's Meta.permissions, whose stored name is this English text.
CUSTOM_NAMES = (gettext_noop("Can view message content unmasked"),)


def permission_label(permission: Permission) -> str:
    """ "<app> | <model> | <action>" in the active language, as Django's own label is laid out."""
    content_type = permission.content_type
    model = content_type.model_class()
    if model is None:  # a model since removed: only its stored names are left
        return str(permission)
    meta = model._meta
    action, _, model_name = permission.codename.partition("_")
    if model_name == meta.model_name and action in ACTIONS:
        name = gettext(ACTIONS[action]) % {"model": meta.verbose_name}
    else:
        name = gettext(permission.name)
    return f"{meta.app_config.verbose_name} | {meta.verbose_name} | {name}"


class PermissionLabelsMixin:
    """For a ModelAdmin: its permission choices labelled by `permission_label`."""

    def formfield_for_manytomany(self, db_field: ManyToManyField, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)  # type: ignore[misc]
        if formfield is not None and db_field.related_model is Permission:
            formfield.label_from_instance = permission_label
        return formfield


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(PermissionLabelsMixin, DjangoGroupAdmin):
    """Django's group admin, its permissions named in the staff member's language."""
