"""Back office for the ledger: accounts and transfers are read-only (money moves only through the services);
statements and balances as of a date per account; manual adjustments through maker–checker only."""

import csv
from datetime import datetime, time
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.admin_search import PhoneSearchMixin
from apps.audit.export import CsvExportMixin
from apps.core.admin import DateRangeFilter, ReadOnlyAdmin
from apps.core.errors import DomainError
from apps.tokens.choices import CHAIN_TX_OPEN_STATES, AdjustmentStatus, OwnerKind
from apps.tokens.models import (
    Account,
    Adjustment,
    ChainTransaction,
    ChainWallet,
    LedgerCheck,
    SettlementBatch,
    Transfer,
    Withdrawal,
)
from apps.tokens.selectors import (
    account_balance,
    account_balance_as_of,
    account_transfers,
    amount_decimal,
    signed_amount,
)
from apps.tokens.services import account_credit_limit_set, adjustment_approve, adjustment_propose, adjustment_reject


@admin.register(Account)
class AccountAdmin(PhoneSearchMixin, ReadOnlyAdmin):
    """Balances are read-only; the one thing staff change here is a client's credit limit (postpaid), through
    `account_credit_limit_set` (audited)."""

    list_display = (
        "id", "owner", "ledger", "available", "pending_in", "pending_out", "credit_limit", "is_hot", "bounded"
    )  # fmt: skip
    list_filter = ("ledger", "owner_kind", "is_hot")
    fields = ("ledger", "owner_kind", "organization", "provider", "platform", "is_hot", "credit_limit", "created_at")
    search_fields = ("=id", "organization__name", "provider__user__display_name", "platform")
    phone_search_fields = ("provider__user__phone",)
    list_select_related = ("ledger", "organization", "provider__user")
    change_form_template = "admin/tokens/account/change_form.html"

    @admin.display(description=_("owner"))
    def owner(self, account: Account) -> str:
        if account.organization_id:
            return _("client: %(name)s") % {"name": account.organization}
        if account.provider_id:
            return _("provider: %(name)s") % {"name": account.provider.user}
        return _("platform: %(name)s") % {"name": account.get_platform_display()}

    @admin.display(description=_("available"))
    def available(self, account: Account) -> str:
        return amount_decimal(account_balance(account).available, account.ledger.scale)

    @admin.display(description=_("pending in"))
    def pending_in(self, account: Account) -> str:
        return amount_decimal(account_balance(account).pending_in, account.ledger.scale)

    @admin.display(description=_("pending out"))
    def pending_out(self, account: Account) -> str:
        return amount_decimal(account_balance(account).pending_out, account.ledger.scale)

    @admin.display(boolean=True, description=_("bounded"))
    def bounded(self, account: Account) -> bool:
        return account.debits_must_not_exceed_credits or account.credits_must_not_exceed_debits

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Only a client account has something to change (its credit limit).
        allowed = request.user.has_perm("tokens.change_account")
        return allowed and (obj is None or obj.owner_kind == OwnerKind.CLIENT)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> tuple[str, ...]:
        return tuple(name for name in self.fields if name != "credit_limit")

    def save_model(self, request: HttpRequest, obj: Account, form: forms.ModelForm, change: bool) -> None:
        if "credit_limit" not in form.changed_data:
            return
        try:
            account_credit_limit_set(account=obj, credit_limit=form.cleaned_data["credit_limit"], actor=request.user)
        except DomainError as error:
            self.message_user(
                request,
                _("Credit limit not changed: %(error)s %(details)s")
                % {"error": error.message, "details": error.details},
                messages.ERROR,
            )

    def get_urls(self) -> list[URLPattern]:
        statement = self.admin_site.admin_view(self.statement_view)
        return [path("<int:account_id>/statement.csv", statement, name="tokens_account_statement"), *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The account, and its balances now and as of the date asked for (`?as_of=YYYY-MM-DD`, end of that day)."""
        extra = dict(extra_context or {})
        account = self.get_object(request, object_id)
        if account is not None:
            form = StatementForm(request.GET or None)
            extra["statement_form"] = form
            extra["balance_now"] = _balance_rows(account_balance(account), account.ledger.scale)
            if form.is_bound and form.is_valid() and form.cleaned_data.get("as_of"):
                at = _end_of(form.cleaned_data["as_of"])
                extra["as_of"] = at
                extra["balance_as_of"] = _balance_rows(account_balance_as_of(account, at), account.ledger.scale)
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def statement_view(self, request: HttpRequest, account_id: int) -> HttpResponse:
        """CSV statement of an account between two dates: opening balance, each transfer, closing balance."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        account = get_object_or_404(Account.objects.select_related("ledger"), pk=account_id)
        form = StatementForm(request.GET)
        if not form.is_valid():
            return HttpResponse(f"Bad dates: {form.errors.as_text()}", status=400, content_type="text/plain")
        since = form.cleaned_data.get("since")
        until = form.cleaned_data.get("until") or timezone.localdate()
        start = _end_of(since, start=True) if since else None
        end = _end_of(until)
        scale = account.ledger.scale
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="account-{account.pk}-statement.csv"'
        writer = csv.writer(response)
        writer.writerow(["at", "transfer", "kind", "status", "reason", "amount", "reference"])
        if start is not None:
            opening = account_balance_as_of(account, start).available
            writer.writerow([start.isoformat(), "opening balance", "", "", "", amount_decimal(opening, scale), ""])
        transfers = account_transfers(account, since=start).filter(created_at__lte=end).order_by("created_at", "id")
        for transfer in transfers.iterator(chunk_size=2000):
            reference = transfer.message_id or transfer.payment_ref or transfer.payout_ref or ""
            writer.writerow(
                [
                    transfer.created_at.isoformat(), transfer.pk, transfer.kind, transfer.status, transfer.reason,
                    amount_decimal(signed_amount(transfer, account.pk), scale), reference,
                ]
            )  # fmt: skip
        closing = account_balance_as_of(account, end).available
        writer.writerow([end.isoformat(), "closing balance", "", "", "", amount_decimal(closing, scale), ""])
        return response


class StatementForm(forms.Form):
    as_of = forms.DateField(required=False, label=_("Balances as of (end of day)"))
    since = forms.DateField(label=_("since"), required=False)
    until = forms.DateField(label=_("until"), required=False)


def _end_of(day: Any, *, start: bool = False) -> datetime:
    """The first (start=True) or last instant of a local calendar day, aware."""
    return timezone.make_aware(datetime.combine(day, time.min if start else time.max))


def _balance_rows(balance: Any, scale: int) -> list[tuple[str, str]]:
    return [
        (_("available"), amount_decimal(balance.available, scale)),
        (_("pending in"), amount_decimal(balance.pending_in, scale)),
        (_("pending out"), amount_decimal(balance.pending_out, scale)),
        (_("debits posted / pending"), f"{balance.debits_posted} / {balance.debits_pending}"),
        (_("credits posted / pending"), f"{balance.credits_posted} / {balance.credits_pending}"),
    ]


@admin.register(Transfer)
class TransferAdmin(CsvExportMixin, ReadOnlyAdmin):
    list_display = (
        "id", "created_at", "kind", "status", "reason", "amount", "debit_account_id", "credit_account_id", "message_id"
    )  # fmt: skip
    list_filter = ("kind", "status", "reason", "ledger", ("created_at", DateRangeFilter))
    csv_fields = (
        "id", "ledger_id", "debit_account_id", "credit_account_id", "amount", "kind", "status", "pending_id", "reason",
        "message_id", "job_id", "payment_ref", "payout_ref", "created_at", "resolved_at",
    )  # fmt: skip
    # Exact matches only: ids and references are looked up in full (the table is large).
    search_fields = ("=id", "=pending__id", "=payment_ref", "=payout_ref")
    date_hierarchy = "created_at"
    ordering = ("-created_at",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str) -> tuple[QuerySet, bool]:
        """Also by message, job or account number: a numeric term matches those references."""
        results, duplicates = super().get_search_results(request, queryset, search_term)
        term = search_term.strip()
        if term.isdigit():
            number = int(term)
            by_reference = queryset.filter(message_id=number) | queryset.filter(job_id=number)
            by_account = queryset.filter(debit_account_id=number) | queryset.filter(credit_account_id=number)
            results = results | by_reference | by_account
        return results, duplicates


class AdjustmentForm(forms.ModelForm):
    class Meta:
        model = Adjustment
        fields = ("account", "amount", "memo")


@admin.register(Adjustment)
class AdjustmentAdmin(admin.ModelAdmin):
    """Staff propose here; a different staff member approves or rejects with the actions. Nothing is edited or
    deleted: a wrong proposal is rejected and a new one made."""

    form = AdjustmentForm
    list_display = ("id", "account", "amount", "memo", "status", "proposed_by", "proposed_at", "decided_by")
    list_filter = ("status",)
    raw_id_fields = ("account",)
    actions = ("approve", "reject")
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Adjustment | None = None) -> tuple[str, ...]:
        if obj is None:
            return ()
        return ("account", "amount", "memo", "status", "proposed_by", "proposed_at", "decided_by", "decided_at",
                "transfer_id")  # fmt: skip

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Adjustment, form: Any, change: bool) -> None:
        if change:
            return  # nothing of a proposal changes here
        try:
            proposed = adjustment_propose(actor=request.user, account=obj.account, amount=obj.amount, memo=obj.memo)
        except DomainError as error:
            raise PermissionDenied(str(error.message)) from error
        obj.pk = proposed.pk

    @admin.action(description=_("Approve (books the adjustment; not your own proposals)"))
    def approve(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, adjustment_approve, _("%(count)s adjustment(s) approved."))

    @admin.action(description=_("Reject"))
    def reject(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._decide(request, queryset, adjustment_reject, _("%(count)s adjustment(s) rejected."))

    def _decide(self, request: HttpRequest, queryset: QuerySet, decide: Any, done_text: Any) -> None:
        done = 0
        for adjustment_id in queryset.filter(status=AdjustmentStatus.PROPOSED).values_list("pk", flat=True):
            try:
                decide(actor=request.user, adjustment_id=adjustment_id)
                done += 1
            except DomainError as error:
                self.message_user(
                    request,
                    _("Adjustment %(id)s: %(error)s") % {"id": adjustment_id, "error": error.message},
                    messages.ERROR,
                )
        if done:
            self.message_user(request, done_text % {"count": done}, messages.SUCCESS)


@admin.register(LedgerCheck)
class LedgerCheckAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "breaks", "imbalance", "transfers", "accounts", "duration_ms")
    ordering = ("-started_at",)


@admin.register(ChainTransaction)
class ChainTransactionAdmin(ReadOnlyAdmin):
    """The hot wallet's transactions, view-only: only the chain sender writes them (a reverted or dropped one is
    final, and an operator who wants it done again asks for a new transaction, never edits this one)."""

    list_display = ("id", "purpose", "reference", "state", "nonce", "tx_hash", "block_number", "gas_used", "created_at")
    list_filter = ("state", "purpose", "chain_id")
    search_fields = ("=reference", "=tx_hash", "=nonce", "replaced_hashes")
    date_hierarchy = "created_at"
    exclude = ("raw",)
    actions = ("retry",)

    @admin.action(description=_("Retry now: send the same signed transaction again, or replace it (same nonce)"))
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        from apps.tokens.chain.withdrawals import transaction_retry

        sender = _sender(self, request)
        if sender is None:
            return
        for tx in queryset.filter(state__in=CHAIN_TX_OPEN_STATES).order_by("nonce"):
            tx = transaction_retry(sender, tx, actor=request.user)
            self.message_user(request, f"{tx.reference}: {tx.state} ({tx.tx_hash})")


def _sender(model_admin: admin.ModelAdmin, request: HttpRequest) -> Any:
    """The hot wallet's sender, or None (said to the staff member) when the chain cannot be reached."""
    from apps.tokens.chain.sender import ChainSender

    try:
        return ChainSender.from_settings()
    except DomainError as error:
        model_admin.message_user(request, f"{error.code}: {error.message}", messages.ERROR)
        return None


class WithdrawalInline(admin.TabularInline):
    model = Withdrawal
    fields = ("public_id", "account", "address", "amount", "state", "created_at", "settled_at")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SettlementBatch)
class SettlementBatchAdmin(ReadOnlyAdmin):
    """Withdrawals paid together by one transferBatch transaction. "Retry now" never pays twice: it sends the
    batch under its one reference, or follows its one transaction (see `batch_retry`)."""

    list_display = ("id", "state", "recipients", "amount", "transaction_hash", "attempts", "error", "created_at",
                    "settled_at")  # fmt: skip
    list_filter = ("state",)
    search_fields = ("=id", "=chain_transaction__tx_hash", "=withdrawals__public_id")
    date_hierarchy = "created_at"
    list_select_related = ("chain_transaction",)
    inlines = (WithdrawalInline,)
    actions = ("retry",)

    @admin.display(description=_("transaction"))
    def transaction_hash(self, batch: SettlementBatch) -> str:
        tx = batch.chain_transaction
        return f"{tx.tx_hash} ({tx.state})" if tx else "—"

    @admin.action(description=_("Retry now (the same transaction; never a second payment)"))
    def retry(self, request: HttpRequest, queryset: QuerySet) -> None:
        from apps.tokens.chain.withdrawals import batch_retry

        sender = _sender(self, request)
        if sender is None:
            return
        for batch_id in queryset.values_list("pk", flat=True):
            batch = batch_retry(sender, batch_id, actor=request.user)
            level = messages.SUCCESS if batch.state in ("sent", "settled") else messages.WARNING
            self.message_user(
                request,
                _("Batch %(id)s: %(state)s %(error)s") % {"id": batch.pk, "state": batch.state, "error": batch.error},
                level,
            )


@admin.register(Withdrawal)
class WithdrawalAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "state", "amount", "address", "account", "batch", "created_at", "settled_at")
    list_filter = ("state",)
    search_fields = ("=public_id", "=address", "=reference", "=account__id")
    date_hierarchy = "created_at"
    list_select_related = ("account",)


@admin.register(ChainWallet)
class ChainWalletAdmin(ReadOnlyAdmin):
    """The hot wallet: its address and, asked of the node now, its gas balance (native token) and pending nonce."""

    list_display = ("address", "chain_id", "last_nonce", "gas_balance", "open_transactions")

    @admin.display(description=_("gas balance (SEL)"))
    def gas_balance(self, wallet: ChainWallet) -> str:
        from apps.tokens.chain.client import web3_connect
        from apps.tokens.chain.sender import CHAIN_CALL_ERRORS

        try:
            wei = web3_connect(timeout=3).eth.get_balance(wallet.address)
        except CHAIN_CALL_ERRORS:
            return _("node unavailable")
        return amount_decimal(wei, 18)

    @admin.display(description=_("open transactions"))
    def open_transactions(self, wallet: ChainWallet) -> int:
        return ChainTransaction.objects.filter(
            chain_id=wallet.chain_id, sender=wallet.address, state__in=CHAIN_TX_OPEN_STATES
        ).count()
