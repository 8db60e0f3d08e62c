"""The back office's payout screens: the queue (approve, reject with a reason: both audited, through the
services), history with per-day and per-method filters, accounts, and the payout rates staff set."""

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.admin_search import PhoneSearchMixin
from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, admin_badge_register
from apps.core.errors import DomainError
from apps.core.money import money_text
from apps.incentives.models import Payout, PayoutAccount, PayoutRate
from apps.incentives.payouts import services
from apps.incentives.payouts.choices import PayoutStatus
from apps.incentives.payouts.selectors import payout_daily_report


class DecisionForm(ActionForm):
    reason = forms.CharField(label=_("reason"), required=False, max_length=200, help_text=_("Required to reject."))


admin_badge_register("incentives.payout", lambda: Payout.objects.filter(status=PayoutStatus.AWAITING_APPROVAL).count())


@admin.register(Payout)
class PayoutAdmin(PhoneSearchMixin, CsvExportMixin, admin.ModelAdmin):
    list_display = [
        "public_id",
        "provider",
        "method",
        "status",
        "amount",
        "paid",
        "pending_reason",
        "created_at",
    ]
    list_filter = ["status", "method", "currency", "approval_required", ("created_at", DateRangeFilter)]
    csv_fields = (
        "public_id", "provider_id", "method", "status", "amount", "currency", "fiat_amount", "pending_reason",
        "failure_reason", "approval_required", "decided_by_id", "decided_at", "created_at", "finished_at",
    )  # fmt: skip
    search_fields = ["public_id", "external_id"]
    phone_search_fields = ("msisdn", "provider__user__phone")  # encrypted: whole numbers, by their keyed hash
    date_hierarchy = "created_at"
    list_select_related = ["provider__user"]
    action_form = DecisionForm
    actions = ["approve", "reject", "check_status"]
    # Money: nothing here is edited by hand; changes go through the actions (services, audited).
    readonly_fields = [field.name for field in Payout._meta.fields]
    report_days = 30

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        """The queue, and under it the report per day, method and status (smallest units, TIME_ZONE days)."""
        since = timezone.now() - timedelta(days=self.report_days)
        context = {"daily_report": payout_daily_report(since=since), "report_days": self.report_days}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **context})

    @admin.display(description=_("paid out"), ordering="fiat_amount")
    def paid(self, payout: Payout) -> str:
        return money_text(payout.fiat_amount, payout.currency)  # ៛10,000 / $0.25, as the provider is paid

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Payout | None = None) -> bool:
        return False

    def _each(self, request: HttpRequest, queryset: QuerySet[Payout], decide, done_text: Any) -> None:
        done = 0
        for payout in queryset:
            try:
                decide(payout)
                done += 1
            except DomainError as error:
                self.message_user(request, f"{payout.public_id}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Approve the selected payouts (they are sent)"))
    def approve(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._each(
            request,
            queryset,
            lambda p: services.payout_approve(actor=request.user, payout_id=p.pk),
            _("%(count)s payout(s) approved."),
        )

    @admin.action(description=_("Reject the selected payouts (give a reason; the PPT goes back)"))
    def reject(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        reason = request.POST.get("reason", "")
        self._each(
            request,
            queryset,
            lambda p: services.payout_reject(actor=request.user, payout_id=p.pk, reason=reason),
            _("%(count)s payout(s) rejected."),
        )

    @admin.action(description=_("Check the status of the selected pending payouts now"))
    def check_status(self, request: HttpRequest, queryset: QuerySet[Payout]) -> None:
        self._each(
            request, queryset, lambda p: services.payout_check(payout_id=p.pk), _("%(count)s payout(s) checked.")
        )


@admin.register(PayoutAccount)
class PayoutAccountAdmin(PhoneSearchMixin, admin.ModelAdmin):
    list_display = ["holder_name", "account_number", "provider", "currency", "whitelisted_at", "whitelist_error"]
    list_filter = ["currency", "active"]
    # Account numbers and names are encrypted: staff find an account by its provider's phone.
    search_fields = ["=provider__user__phone"]
    phone_search_fields = ("provider__user__phone",)
    readonly_fields = ["provider", "account_number", "whitelisted_at", "whitelist_error", "created_at"]
    actions = ["whitelist"]

    @admin.action(description=_("Whitelist the selected accounts with the payout service (again)"))
    def whitelist(self, request: HttpRequest, queryset: QuerySet[PayoutAccount]) -> None:
        for account in queryset:
            services.payout_account_whitelist(account=account)
        self.message_user(request, _("Whitelisting asked; see each account's status."))


@admin.register(PayoutRate)
class PayoutRateAdmin(admin.ModelAdmin):
    list_display = ["currency", "units_per_ppt", "valid_from", "valid_until", "created_by"]
    list_filter = ["currency"]
    readonly_fields = ["created_by", "created_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: PayoutRate | None = None) -> list[str]:
        # A rate a payout used is never edited: set a new row instead.
        if obj is not None and obj.payouts.exists():
            return [field.name for field in PayoutRate._meta.fields]
        return self.readonly_fields

    def save_model(self, request: HttpRequest, obj: PayoutRate, form: forms.ModelForm, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
