"""Reads of the ledger: balances (hot accounts included), history, balances as of a date, statements."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncDate

from apps.core.errors import NotFound
from apps.providers.models import Provider
from apps.tokens.choices import (
    LEDGER_IDS,
    LEDGER_SCALES,
    AdjustmentStatus,
    LedgerCode,
    Reason,
    TransferKind,
    TransferStatus,
)
from apps.tokens.errors import OrganizationRequired, WalletNotFound
from apps.tokens.models import Account, Adjustment, HotBalanceDelta, Transfer


@dataclass(frozen=True, slots=True)
class Balance:
    """An account's four totals, and what its owner sees: available, pending in, pending out.

    Ledger accounts of clients and providers are credit-normal (money in is a credit): available is posted credits
    minus posted and pending debits, so a held amount is not spendable twice.
    """

    debits_pending: int
    debits_posted: int
    credits_pending: int
    credits_posted: int

    @property
    def available(self) -> int:
        return self.credits_posted - self.debits_posted - self.debits_pending

    @property
    def pending_in(self) -> int:
        return self.credits_pending

    @property
    def pending_out(self) -> int:
        return self.debits_pending


ZERO = Balance(0, 0, 0, 0)


def account_balance(account: Account) -> Balance:
    """The account's totals now. A hot account's are its columns plus its changes not rolled up yet, read in one
    statement (one snapshot): read separately, a roll-up in between would count a change twice or not at all."""
    if not account.is_hot:
        return Balance(account.debits_pending, account.debits_posted, account.credits_pending, account.credits_posted)
    queued = HotBalanceDelta.objects.filter(account=OuterRef("pk")).values("account")
    totals = (
        Account.objects.filter(pk=account.pk)
        .annotate(
            queued_dp=Subquery(queued.annotate(total=Sum("debits_pending")).values("total")),
            queued_dpo=Subquery(queued.annotate(total=Sum("debits_posted")).values("total")),
            queued_cp=Subquery(queued.annotate(total=Sum("credits_pending")).values("total")),
            queued_cpo=Subquery(queued.annotate(total=Sum("credits_posted")).values("total")),
        )
        .values_list(
            "debits_pending",
            "debits_posted",
            "credits_pending",
            "credits_posted",
            "queued_dp",
            "queued_dpo",
            "queued_cp",
            "queued_cpo",
        )
        .get()
    )
    return Balance(*(totals[position] + (totals[position + 4] or 0) for position in range(4)))


@dataclass(frozen=True, slots=True)
class Wallet:
    """Whose wallet a request sees, on which ledger; `account` is None while the owner has none yet (zero)."""

    owner: str
    organization_id: int | None
    provider_id: int | None
    ledger: str
    scale: int
    account: Account | None


def wallet_of(*, principal: Any, ledger: str = LedgerCode.PPT, organization: int | None = None) -> Wallet:
    """The wallet a request may see: an API key's organisation; for a signed-in person, the organisation named by
    `organization` (a member only), else their provider wallet, else their one organisation's.

    An organisation the person is not a member of is as unknown as one that does not exist (404); a person in
    several organisations must name one (400 `organization_required`).
    """
    from apps.accounts.authentication import ApiClient
    from apps.accounts.selectors import client_membership, clients_of

    if isinstance(principal, ApiClient):
        if organization is not None and organization != principal.organization.pk:
            raise WalletNotFound()
        return _wallet(ledger, organization_id=principal.organization.pk)
    if organization is not None:
        try:
            client_membership(user=principal, client_id=organization)
        except NotFound:
            raise WalletNotFound() from None
        return _wallet(ledger, organization_id=organization)
    provider_id = Provider.objects.filter(user_id=principal.pk).values_list("pk", flat=True).first()
    if provider_id is not None:
        return _wallet(ledger, provider_id=provider_id)
    organizations = list(clients_of(user=principal).values_list("pk", flat=True)[:2])
    if len(organizations) > 1:
        raise OrganizationRequired()
    if not organizations:
        raise WalletNotFound()
    return _wallet(ledger, organization_id=organizations[0])


def _wallet(ledger: str, *, organization_id: int | None = None, provider_id: int | None = None) -> Wallet:
    owner = {"organization_id": organization_id} if organization_id is not None else {"provider_id": provider_id}
    account = Account.objects.filter(ledger_id=LEDGER_IDS[ledger], **owner).first()
    return Wallet(
        owner="client" if organization_id is not None else "provider",
        organization_id=organization_id,
        provider_id=provider_id,
        ledger=ledger,
        scale=LEDGER_SCALES[ledger],
        account=account,
    )


def account_transfers(
    account: Account | int,
    *,
    reason: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Transfer]:
    """Transfers that debit or credit the account, filtered by reason and by `since <= created_at < until`."""
    account_id = account if isinstance(account, int) else account.pk
    transfers = Transfer.objects.filter(Q(debit_account_id=account_id) | Q(credit_account_id=account_id))
    if reason:
        transfers = transfers.filter(reason=reason)
    if since is not None:
        transfers = transfers.filter(created_at__gte=since)
    if until is not None:
        transfers = transfers.filter(created_at__lt=until)
    return transfers


def account_balance_as_of(account: Account, at: datetime) -> Balance:
    """The account's totals at the instant `at`, recomputed from its transfers (a pending transfer still counts as
    pending if it was resolved after `at`)."""
    transfers = account_transfers(account).filter(created_at__lte=at)
    posted = Q(kind__in=[TransferKind.SINGLE, TransferKind.POST])
    pending = Q(kind=TransferKind.PENDING) & (Q(status=TransferStatus.PENDING) | Q(resolved_at__gt=at))
    totals = transfers.aggregate(
        dp=Sum("amount", filter=pending & Q(debit_account=account)),
        dpo=Sum("amount", filter=posted & Q(debit_account=account)),
        cp=Sum("amount", filter=pending & Q(credit_account=account)),
        cpo=Sum("amount", filter=posted & Q(credit_account=account)),
    )
    return Balance(totals["dp"] or 0, totals["dpo"] or 0, totals["cp"] or 0, totals["cpo"] or 0)


def amount_decimal(amount: int, scale: int) -> str:
    """An amount in the smallest unit as a decimal string with the ledger's places (1500000, 6 → "1.500000")."""
    return str(Decimal(amount).scaleb(-scale).quantize(Decimal(1).scaleb(-scale)))


def signed_amount(transfer: Transfer, account_id: int) -> int:
    """The transfer's amount as the account sees it: positive when credited, negative when debited."""
    return transfer.amount if transfer.credit_account_id == account_id else -transfer.amount


def charges_by_day(*, account_id: int, since: datetime, until: datetime, tz: tzinfo) -> dict[date, dict[str, int]]:
    """Message charges of a client's account per local day of `tz`, in [since, until): `held` (pending charges
    placed), `captured` (posted) and `released` (voided, expired, or the part of a hold a partial post did not
    take). Two GROUP BY queries. A post is written in the transaction that resolves its hold, at the same instant, so
    what was resolved on a day minus what was posted that day is what was released."""
    charges = Transfer.objects.filter(debit_account_id=account_id, reason=Reason.CHARGE)
    days: dict[date, dict[str, int]] = {}

    def day(key: date) -> dict[str, int]:
        return days.setdefault(key, {"held": 0, "captured": 0, "released": 0})

    created = (
        charges.filter(created_at__gte=since, created_at__lt=until, kind__in=[TransferKind.PENDING, TransferKind.POST])
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(
            held=Sum("amount", filter=Q(kind=TransferKind.PENDING)),
            captured=Sum("amount", filter=Q(kind=TransferKind.POST)),
        )
        .order_by()
    )
    for row in created:
        totals = day(row["day"])
        totals["held"] += row["held"] or 0
        totals["captured"] += row["captured"] or 0
        totals["released"] -= row["captured"] or 0
    resolved = (
        charges.filter(kind=TransferKind.PENDING, resolved_at__gte=since, resolved_at__lt=until)
        .annotate(day=TruncDate("resolved_at", tzinfo=tz))
        .values("day")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    for row in resolved:
        day(row["day"])["released"] += row["total"] or 0
    return days


def account_movements(account: Account, *, since: datetime, until: datetime) -> dict[str, dict[str, int]]:
    """Posted money in and out of the account in [since, until), per reason: `{reason: {"in": …, "out": …}}`. One
    GROUP BY query; pending transfers move no posted money (their post does)."""
    rows = (
        account_transfers(account, since=since, until=until)
        .filter(kind__in=[TransferKind.SINGLE, TransferKind.POST])
        .values("reason")
        .annotate(
            credits=Sum("amount", filter=Q(credit_account=account)),
            debits=Sum("amount", filter=Q(debit_account=account)),
        )
        .order_by()
    )
    return {row["reason"]: {"in": row["credits"] or 0, "out": row["debits"] or 0} for row in rows}


def account_balance_before(account: Account, at: datetime) -> Balance:
    """The account's totals just before the instant `at` (transfers made at `at` not counted): a period's opening."""
    return account_balance_as_of(account, at - timedelta(microseconds=1))


def adjustments_open_for(*, memo_prefix: str) -> QuerySet[Adjustment]:
    """Adjustments proposed or approved whose memo starts with `memo_prefix` (a refund names what it refunds)."""
    return Adjustment.objects.filter(
        memo__startswith=memo_prefix, status__in=[AdjustmentStatus.PROPOSED, AdjustmentStatus.APPROVED]
    )


def withdrawals_of(account: Account | None) -> QuerySet[Any]:
    """A wallet's withdrawals, newest first, with their batch's transaction (hash and state)."""
    from apps.tokens.models import Withdrawal

    if account is None:
        return Withdrawal.objects.none()
    return (
        Withdrawal.objects.filter(account=account)
        .select_related("batch__chain_transaction")
        .order_by("-created_at", "-id")
    )


def withdrawal_of(account: Account | None, public_id: str) -> Any:
    from apps.tokens.errors import WithdrawalNotFound

    withdrawal = withdrawals_of(account).filter(public_id=public_id).first()
    if withdrawal is None:
        raise WithdrawalNotFound()
    return withdrawal


def withdrawal_for_reference(reference: str) -> Any:
    """The withdrawal another app booked with its idempotency key `reference` (`payout:po_…`), or None."""
    from apps.tokens.models import Withdrawal

    return Withdrawal.objects.filter(reference=reference).first()


def wallet_owner(wallet: Wallet) -> dict[str, Any]:
    """The wallet's owner as `withdrawal_request` takes it (`provider=` or `organization=`)."""
    from apps.accounts.models import ClientOrganization

    if wallet.provider_id is not None:
        return {"provider": Provider.objects.get(pk=wallet.provider_id)}
    return {"organization": ClientOrganization.objects.get(pk=wallet.organization_id)}


def withdrawal_address(principal: Any, wallet: Wallet) -> str | None:
    """Where the caller's withdrawals go: the EVM address a person bound with Sign-In with Ethereum — the provider's
    own, the member's own, or for an API key the address of the member who created the key (while a member still)."""
    from apps.accounts.authentication import ApiClient
    from apps.accounts.selectors import client_membership

    if not isinstance(principal, ApiClient):
        return principal.evm_address or None
    creator = principal.api_key.created_by
    if creator is None or not creator.evm_address:
        return None
    try:
        client_membership(user=creator, client_id=wallet.organization_id)
    except NotFound:
        return None
    return creator.evm_address
