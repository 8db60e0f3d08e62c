"""Back office for client vetting (plans, sandbox applications) and the deny-lists. Every decision goes through a
service, which audits it."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _

from apps.accounts import services
from apps.accounts.admin_search import search_term_as_phone
from apps.accounts.choices import ApplicationDecision, ApplicationStatus
from apps.accounts.models import ClientApplication, ClientPlan, DenyListEntry
from apps.core.errors import DomainError


@admin.register(ClientPlan)
class ClientPlanAdmin(admin.ModelAdmin):
    list_display = ("name", "key_rate_per_second", "key_rate_per_day", "organization_rate_per_day", "max_api_keys")
    search_fields = ("name",)


# The change form's buttons (see the template) and the list's actions name the same decisions.
DECISION_BUTTONS = {f"_{decision}": decision for decision in ApplicationDecision.values}


@admin.register(ClientApplication)
class ClientApplicationAdmin(admin.ModelAdmin):
    """Applications to leave the sandbox, submitted ones first. Staff write a note (the client reads it with the
    decision) and press Approve, Request changes or Reject."""

    list_display = ("organization", "business_name", "registration_number", "status", "submitted_at", "decided_at")
    list_filter = ("status",)
    search_fields = ("business_name", "registration_number", "organization__name")
    list_select_related = ("organization",)
    ordering = ("status", "submitted_at")
    fields = (
        "organization", "business_name", "registration_number", "use_case", "sample_messages",
        "expected_daily_volume", "status", "submitted_at", "decided_at", "decided_by", "staff_note",
    )  # fmt: skip
    readonly_fields = tuple(name for name in fields if name != "staff_note")
    change_form_template = "admin/accounts/clientapplication/change_form.html"
    actions = ("approve", "request_changes", "reject")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # clients fill applications through the API

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def response_change(self, request: HttpRequest, obj: ClientApplication) -> HttpResponse:
        decision = next((value for button, value in DECISION_BUTTONS.items() if button in request.POST), None)
        if decision is not None:
            self._decide(request, [obj], decision)
        return super().response_change(request, obj)

    def _decide(self, request: HttpRequest, applications: Any, decision: str) -> None:
        for application in applications:
            try:
                services.client_application_decide(
                    application=application, decision=decision, actor=request.user, note=application.staff_note
                )
            except DomainError as error:
                self.message_user(request, f"{application}: {error.message}", level=messages.ERROR)
            else:
                self.message_user(request, f"{application.organization}: {ApplicationDecision(decision).label}.")

    @admin.action(description=_("Approve the selected applications (the organisations go live)"))
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset.filter(status=ApplicationStatus.SUBMITTED), ApplicationDecision.APPROVE)

    @admin.action(description=_("Request changes to the selected applications (with their notes)"))
    def request_changes(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset.filter(status=ApplicationStatus.SUBMITTED), ApplicationDecision.REQUEST_CHANGES)

    @admin.action(description=_("Reject the selected applications (with their notes)"))
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset.filter(status=ApplicationStatus.SUBMITTED), ApplicationDecision.REJECT)


class DenyListEntryForm(forms.ModelForm):
    class Meta:
        model = DenyListEntry
        fields = ("kind", "value", "reason", "removal_reason")

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.instance.pk is None and data.get("kind") and data.get("value"):
            try:
                data["value"] = services.deny_list_normalize(kind=data["kind"], value=data["value"])
            except DomainError as error:
                self.add_error("value", str(error.message))
        return data


@admin.register(DenyListEntry)
class DenyListEntryAdmin(admin.ModelAdmin):
    """Phone numbers, SIM numbers and device installation ids refused at sign-in and registration. Adding lists a
    value; writing a removal reason on a listed entry (or the list action) takes it off. Both are audited; removed
    entries stay, with who removed them and why."""

    form = DenyListEntryForm
    list_display = ("kind", "listed", "reason", "created_by", "created_at", "removed_at", "removed_by")
    list_filter = ("kind", ("removed_at", admin.EmptyFieldListFilter))
    # A number is kept as its keyed hash only: a typed number is found whole, in get_search_results.
    search_fields = ("=value", "reason")
    list_select_related = ("created_by", "removed_by")
    actions = ("remove",)
    show_full_result_count = False

    @admin.display(description=_("listed value"))
    def listed(self, obj: DenyListEntry) -> str:
        return obj.shown_value

    def get_fields(self, request: HttpRequest, obj: DenyListEntry | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("kind", "value", "reason")
        return ("kind", "listed", "reason", "created_by", "created_at", "removed_at", "removed_by", "removal_reason")

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, Any]:
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        e164 = search_term_as_phone(search_term) if search_term else None
        if e164 is None:
            return found, may_have_duplicates
        hashed = services.deny_list_values_of(numbers=[e164])
        return found | queryset.filter(kind__in=services.DENY_LIST_NUMBER_KINDS, value__in=hashed), may_have_duplicates

    def get_readonly_fields(self, request: HttpRequest, obj: DenyListEntry | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        fields = self.get_fields(request, obj)
        return fields if obj.removed_at else tuple(name for name in fields if name != "removal_reason")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # removal keeps the row

    def save_model(self, request: HttpRequest, obj: DenyListEntry, form: Any, change: bool) -> None:
        if not change:
            entry = services.deny_list_add(kind=obj.kind, value=obj.value, reason=obj.reason, actor=request.user)
            obj.pk = entry.pk
        elif obj.removal_reason and "removal_reason" in form.changed_data:
            services.deny_list_remove(entry=obj, actor=request.user, reason=obj.removal_reason)

    @admin.action(description=_("Remove the selected entries from the deny-list"))
    def remove(self, request: HttpRequest, queryset: QuerySet) -> None:
        for entry in queryset.filter(removed_at__isnull=True):
            services.deny_list_remove(entry=entry, actor=request.user, reason="removed from the list page")
        self.message_user(request, _("Entries removed from the deny-list."))
