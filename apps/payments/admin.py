"""Back office for top-ups: payments with their Baray exchanges (bodies minus secrets), receipts (read-only, with their
PDF and HTML in Khmer and English), exchange rates. Money is never moved here: a manual credit or refund is a ledger
adjustment, proposed and approved by two staff members (maker–checker, Ledger → Adjustments); each top-up links to a
proposal for its organisation's account, and the "refund" action proposes taking a paid top-up's PPT back. Client
balances (available, pending) are Ledger → Accounts, filtered by owner kind "client"."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.core.money import money_text
from apps.payments.documents import LANGUAGES, document_html, document_pdf, receipt_document
from apps.payments.models import BarayExchange, ExchangeRate, Receipt, TopUp
from apps.payments.services import topup_refund_propose
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
class TopUpAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = ("public_id", "organization", "status", "amount_display", "ppt_amount", "method", "created_at")
    list_filter = ("status", "currency", "method", ("created_at", DateRangeFilter), "organization")
    csv_fields = (
        "public_id", "organization_id", "organization__name", "status", "currency", "amount", "ppt_amount", "method",
        "failure_reason", "transfer_id", "created_at", "settled_at",
    )  # fmt: skip
    search_fields = ("=public_id", "=intent_id", "organization__name", "=transfer_id")
    list_select_related = ("organization",)
    date_hierarchy = "created_at"
    inlines = [BarayExchangeInline]
    readonly_fields = ("receipt_link", "manual_credit")
    actions = ["refund"]

    @admin.display(description=_("receipt"))
    def receipt_link(self, topup: TopUp) -> str:
        receipt = Receipt.objects.filter(topup=topup).first()
        if receipt is None:
            return _("none (issued when the top-up is paid)")
        return format_html('<a href="{}">{}</a>', reverse("admin:payments_receipt_change", args=[receipt.pk]), receipt)

    @admin.action(description=_("Refund: propose taking the PPT back (a second staff member approves)"))
    def refund(self, request: HttpRequest, queryset: QuerySet) -> None:
        for topup in queryset.select_related("organization"):
            try:
                adjustment = topup_refund_propose(actor=request.user, topup=topup)
            except DomainError as error:
                self.message_user(request, f"{topup.public_id}: {error.code}: {error.message}", messages.ERROR)
                continue
            self.message_user(
                request,
                _("%(topup)s: refund proposed as adjustment %(id)s; another staff member approves it.")
                % {"topup": topup.public_id, "id": adjustment.pk},
                messages.SUCCESS,
            )

    @admin.display(description=_("amount"))
    def amount_display(self, topup: TopUp) -> str:
        return money_text(topup.amount, topup.currency)

    @admin.display(description=_("manual credit or refund"))
    def manual_credit(self, topup: TopUp) -> str:
        account = Account.objects.filter(
            organization_id=topup.organization_id, ledger_id=LEDGER_IDS[LedgerCode.PPT]
        ).first()
        if account is None:
            return _("The organisation has no PPT account yet.")
        query = urlencode({"account": account.pk, "memo": f"top-up {topup.public_id}: "})
        return format_html(
            '<a href="{}?{}">{}</a> {}',
            reverse("admin:tokens_adjustment_add"),
            query,
            _("Propose a ledger adjustment"),
            _("(a second staff member approves it)"),
        )


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    """Issued receipts: never changed or deleted; each downloadable as PDF or HTML, in Khmer or English."""

    list_display = ("number", "organization_name", "amount_display", "ppt_amount", "issued_at", "downloads")
    list_filter = ("year", "currency", ("issued_at", admin.DateFieldListFilter), "organization")
    search_fields = ("=number", "=topup__public_id", "organization_name")
    list_select_related = ("topup",)
    date_hierarchy = "issued_at"
    readonly_fields = ("downloads",)

    @admin.display(description=_("amount"))
    def amount_display(self, receipt: Receipt) -> str:
        return money_text(receipt.amount, receipt.currency)

    @admin.display(description=_("download"))
    def downloads(self, receipt: Receipt) -> str:
        return format_html_join(
            " · ",
            '<a href="{}">{} {}</a>',
            (
                (reverse("admin:payments_receipt_file", args=[receipt.pk, language, fmt]), fmt.upper(), language)
                for fmt in ("pdf", "html")
                for language in LANGUAGES
            ),
        )

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.file_view)
        return [
            path("<int:receipt_id>/<str:language>.<str:fmt>", view, name="payments_receipt_file"),
            *super().get_urls(),
        ]

    def file_view(self, request: HttpRequest, receipt_id: int, language: str, fmt: str) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        if language not in LANGUAGES or fmt not in ("pdf", "html"):
            return HttpResponse(_("Unknown language or format."), status=404, content_type="text/plain")
        receipt = get_object_or_404(Receipt.objects.select_related("topup"), pk=receipt_id)
        document = receipt_document(receipt, language)
        if fmt == "html":
            return HttpResponse(document_html(document), content_type="text/html; charset=utf-8")
        response = HttpResponse(document_pdf(document), content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{receipt.number}-{language}.pdf"'
        return response


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
