"""Back office for top-ups: payments with their Baray exchanges (bodies minus secrets), exchange rates. Money is never
moved here: a manual credit or refund is a ledger adjustment, proposed and approved by two staff members
(maker–checker, Ledger → Adjustments); each top-up links to a proposal for its organisation's account."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from apps.core.admin import ReadOnlyAdmin
from apps.payments.models import BarayExchange, ExchangeRate, TopUp
from apps.tokens.choices import LEDGER_IDS, LedgerCode
from apps.tokens.models import Account


class BarayExchangeInline(admin.TabularInline):
    model = BarayExchange
    fields = ("created_at", "kind", "outcome", "method", "url", "http_status", "error", "duration_ms",
              "request_body", "response_body")  # fmt: skip
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ("created_at", "id")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(TopUp)
class TopUpAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "organization", "status", "amount_display", "ppt_amount", "method", "created_at")
    list_filter = ("status", "currency", "method", ("created_at", admin.DateFieldListFilter), "organization")
    search_fields = ("=public_id", "=intent_id", "organization__name", "=transfer_id")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    inlines = [BarayExchangeInline]
    readonly_fields = ("manual_credit",)

    @admin.display(description="amount")
    def amount_display(self, topup: TopUp) -> str:
        return f"{topup.amount} {topup.currency} (smallest unit)"

    @admin.display(description="manual credit or refund")
    def manual_credit(self, topup: TopUp) -> str:
        account = Account.objects.filter(
            organization_id=topup.organization_id, ledger_id=LEDGER_IDS[LedgerCode.PPT]
        ).first()
        if account is None:
            return "The organisation has no PPT account yet."
        query = urlencode({"account": account.pk, "memo": f"top-up {topup.public_id}: "})
        return format_html(
            '<a href="{}?{}">Propose a ledger adjustment</a> (a second staff member approves it)',
            reverse("admin:tokens_adjustment_add"),
            query,
        )


@admin.register(BarayExchange)
class BarayExchangeAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "kind", "outcome", "topup", "http_status", "error", "duration_ms")
    list_filter = ("kind", "outcome", ("created_at", admin.DateFieldListFilter))
    search_fields = ("=topup__public_id", "url")
    list_select_related = ("topup",)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Staff set rates. A rate some top-up used cannot change or go (its quote records it): add a new row."""

    list_display = ("currency", "ppt_per_unit", "valid_from", "valid_until", "note", "created_by")
    list_filter = ("currency",)
    fields = ("currency", "ppt_per_unit", "valid_from", "valid_until", "note")

    def get_readonly_fields(self, request: HttpRequest, obj: ExchangeRate | None = None) -> tuple[str, ...]:
        if obj is not None and obj.topups.exists():
            return ("currency", "ppt_per_unit", "valid_from")
        return ()

    def has_delete_permission(self, request: HttpRequest, obj: ExchangeRate | None = None) -> bool:
        return obj is None or not obj.topups.exists()

    def save_model(self, request: HttpRequest, obj: ExchangeRate, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
