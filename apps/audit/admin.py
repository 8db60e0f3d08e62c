from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.audit.export import CsvExportMixin
from apps.audit.models import AuditLog
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin


class ActorFilter(admin.SimpleListFilter):
    """`?actor=<user id>`: one person's entries. No list of choices (every user can act; the list would be huge):
    the link "entries by this actor" on a row, or the URL, sets it."""

    title = _("actor")
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, _("user %(id)s") % {"id": value})] if value and value.isdigit() else []

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(actor_id=int(value)) if value.isdigit() else queryset.none()


@admin.register(AuditLog)
class AuditLogAdmin(CsvExportMixin, ReadOnlyAdmin):
    """Read-only: staff can search and read the audit log, never add, change or delete an entry."""

    list_display = (
        "created_at", "action", "actor", "actor_label", "target_type", "target_id", "ip", "request_id", "redacted_at"
    )  # fmt: skip
    list_filter = (ActorFilter, "action", "actor_label", "target_type", ("created_at", DateRangeFilter))
    csv_fields = (
        "id", "created_at", "actor_id", "actor__phone", "actor_label", "action", "target_type", "target_id", "ip",
        "request_id", "task_id", "before", "after", "redacted_at",
    )  # fmt: skip
    # The actor's phone is encrypted: found whole (E.164), by its keyed hash.
    search_fields = ("=target_id", "=request_id", "action", "=actor__phone")
    list_select_related = ("actor",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: AuditLog | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]
