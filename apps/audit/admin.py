from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from apps.audit.export import CsvExportMixin
from apps.audit.models import AuditLog
from apps.audit.pseudonyms import search_term_e164
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin
from apps.core.crypto import blind_index


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
    # A typed number (any common form) finds the entries by that person and those whose payloads hold it: the
    # actor's phone is encrypted and the payloads hold its keyed hash (apps.audit.pseudonyms): see
    # get_search_results. (`=actor__phone` cannot be a search field: the admin compares it case-insensitively.)
    search_fields = ("=target_id", "=request_id", "action")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, Any]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        e164 = search_term_e164(search_term) if search_term else None
        if e164 is None:
            return found, may_have_duplicates
        # The hash alone matches both `hash:<h>` and, after the person's erasure, `erased:<h>`. The payloads are
        # read whole (no index can serve a substring of JSON): staff search is rare and paginated.
        digest = blind_index(e164)
        by_number = Q(actor__phone=e164) | Q(before__icontains=digest) | Q(after__icontains=digest)
        return found | queryset.filter(by_number), may_have_duplicates

    list_select_related = ("actor",)
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request: HttpRequest, obj: AuditLog | None = None) -> list[str]:
        return [field.name for field in self.model._meta.fields]
