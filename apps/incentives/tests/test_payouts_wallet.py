"""Wallet payouts (`method: wallet`): the tokens app's withdrawal to the provider's bound EVM address is the payout's
one ledger booking, made with the request (or on approval), never twice; the daily limits count it with the other
methods; the payout follows the withdrawal to settled or failed on a local chain node."""

import pytest
from django.urls import reverse
from web3 import Web3

from apps.audit.models import AuditLog
from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.payouts.selectors import payout_limits
from apps.incentives.tests.conftest import PPT, available
from apps.tokens.errors import WithdrawalDailyLimitExceeded
from apps.tokens.models import Transfer, Withdrawal
from apps.tokens.services import withdrawal_request
from apps.tokens.tests.chain.conftest import chain_node, chain_settings, sender  # noqa: F401

pytestmark = pytest.mark.django_db
ADDRESS = Web3.to_checksum_address("0x" + "a1" * 20)
OTHER = Web3.to_checksum_address("0x" + "0d" * 20)


def bind(provider, address: str = ADDRESS) -> None:
    provider.user.evm_address = address
    provider.user.save(update_fields=["evm_address"])


@pytest.fixture
def bound(provider):
    """The conftest's provider (100 PPT posted) with an EVM address bound."""
    bind(provider)
    return provider


def wallet_payout(provider, amount: int = 30 * PPT) -> Payout:
    return services.payout_request(provider=provider, actor=provider.user, method="wallet", amount=amount)


def ledger_bookings(provider) -> list[tuple[str, str]]:
    """(transfer id, status) of every transfer out of the provider's ledger account but its earnings."""
    from apps.tokens.services import account_open

    account = account_open(provider=provider)
    return sorted(Transfer.objects.filter(debit_account=account).values_list("id", "status"))


def test_a_wallet_payout_books_one_withdrawal_once(bound):
    payout = wallet_payout(bound)
    withdrawal = Withdrawal.objects.get()
    assert (payout.status, payout.currency, payout.fiat_amount, payout.rate_id) == ("pending", "PPT", 30 * PPT, None)
    assert payout.external_id == withdrawal.public_id and payout.transfer_id == withdrawal.transfer_id
    assert (withdrawal.address, withdrawal.amount, withdrawal.reference) == (
        ADDRESS,
        30 * PPT,
        f"payout:{payout.public_id}",
    )
    assert withdrawal.requested_by == bound.user
    # The withdrawal's pending transfer is the only booking: no `payout:` transfer of the payout's own.
    assert ledger_bookings(bound) == [(withdrawal.transfer_id, "pending")]
    assert available(bound) == 70 * PPT
    # The withdrawal's idempotency key: asked again with it, the same withdrawal answers and nothing more is held.
    again = withdrawal_request(provider=bound, address=ADDRESS, amount=30 * PPT, reference=f"payout:{payout.public_id}")
    assert again.pk == withdrawal.pk and Withdrawal.objects.count() == 1 and available(bound) == 70 * PPT
    # Status checks before the settlement change nothing and never book.
    assert services.payouts_check_pending() == 0 and services.payouts_check_pending() == 0
    payout.refresh_from_db()
    assert payout.status == "pending" and payout.pending_reason == services.AWAITING_SETTLEMENT
    assert payout.status_checks == 2 and ledger_bookings(bound) == [(withdrawal.transfer_id, "pending")]
    assert services.payout_send(payout_id=payout.pk).status == "pending"  # nothing to send for a wallet payout
    assert AuditLog.objects.filter(action="incentives.payout_request", target_id=str(payout.pk)).count() == 1


def test_a_large_wallet_payout_books_only_when_approved(bound, settings):
    from apps.accounts.tests.factories import UserFactory

    settings.PAYOUT_APPROVAL_ABOVE = 50 * PPT
    payout = wallet_payout(bound, 60 * PPT)
    assert payout.status == "awaiting_approval" and payout.transfer_id == "" and payout.external_id == ""
    assert not Withdrawal.objects.exists() and ledger_bookings(bound) == [] and available(bound) == 100 * PPT
    staff = UserFactory(is_staff=True)
    with pytest.raises(services.errors.PayoutApproverInvalid):
        services.payout_approve(actor=bound.user, payout_id=payout.pk)
    approved = services.payout_approve(actor=staff, payout_id=payout.pk)
    withdrawal = Withdrawal.objects.get()
    assert approved.status == "pending" and approved.decided_by == staff
    assert approved.external_id == withdrawal.public_id and withdrawal.reference == f"payout:{payout.public_id}"
    assert withdrawal.requested_by == bound.user  # who asked; the approver is the payout's `decided_by`
    assert ledger_bookings(bound) == [(withdrawal.transfer_id, "pending")] and available(bound) == 40 * PPT
    with pytest.raises(services.errors.PayoutNotAwaitingApproval):
        services.payout_approve(actor=staff, payout_id=payout.pk)
    assert Withdrawal.objects.count() == 1
    assert AuditLog.objects.filter(action="incentives.payout_approve", target_id=str(payout.pk)).count() == 1


def test_a_rejected_wallet_payout_books_nothing(bound, settings):
    from apps.accounts.tests.factories import UserFactory

    settings.PAYOUT_APPROVAL_ABOVE = 50 * PPT
    payout = wallet_payout(bound, 60 * PPT)
    services.payout_reject(actor=UserFactory(is_staff=True), payout_id=payout.pk, reason="unusual pattern")
    payout.refresh_from_db()
    assert payout.status == "rejected" and payout.rejection_reason == "unusual pattern"
    assert not Withdrawal.objects.exists() and ledger_bookings(bound) == [] and available(bound) == 100 * PPT
    assert AuditLog.objects.filter(action="incentives.payout_reject", target_id=str(payout.pk)).count() == 1


def test_approval_refused_by_the_ledger_keeps_nothing(bound, settings):
    """Nothing is held while staff decide: if the balance went meanwhile, the approval is refused and the payout
    still waits (to be rejected)."""
    from apps.accounts.tests.factories import UserFactory

    settings.PAYOUT_APPROVAL_ABOVE = 50 * PPT
    payout = wallet_payout(bound, 60 * PPT)
    withdrawal_request(provider=bound, address=ADDRESS, amount=50 * PPT)  # the wallet API, meanwhile
    with pytest.raises(services.errors.PayoutAboveAvailable):
        services.payout_approve(actor=UserFactory(is_staff=True), payout_id=payout.pk)
    payout.refresh_from_db()
    assert payout.status == "awaiting_approval" and Withdrawal.objects.count() == 1 and available(bound) == 50 * PPT


@pytest.mark.parametrize(
    ("amount", "code", "status"),
    [
        (None, "wallet_not_bound", 404),  # no address bound
        (5 * PPT, "payout_below_minimum", 400),  # the payout minimum, but under the smallest withdrawal
        (150 * PPT, "payout_above_available", 422),
    ],
)
def test_refused_wallet_payouts_book_nothing(amount, code, status, provider, settings, api_client_for):
    settings.PAYOUT_MIN_AMOUNT, settings.WITHDRAWAL_MIN_AMOUNT = 5 * PPT, 10 * PPT
    if amount is not None:
        bind(provider)
    response = api_client_for(provider.user).post(
        reverse("payouts"), {"method": "wallet", "amount": amount or 30 * PPT}, format="json"
    )
    assert response.status_code == status and response.json()["code"] == code
    assert not Payout.objects.exists() and not Withdrawal.objects.exists()
    assert ledger_bookings(provider) == [] and available(provider) == 100 * PPT


def test_the_daily_limit_counts_wallet_payouts_with_the_other_methods(bound, airtime, rates, settings):
    settings.PAYOUT_DAILY_LIMIT = 45 * PPT
    services.payout_send(
        payout_id=services.payout_request(provider=bound, actor=bound.user, method="airtime", amount=20 * PPT).pk
    )
    wallet_payout(bound, 20 * PPT)
    with pytest.raises(services.errors.PayoutDailyLimitExceeded) as refused:
        wallet_payout(bound, 10 * PPT)
    assert refused.value.details["used_today"] == 40 * PPT
    with pytest.raises(services.errors.PayoutDailyLimitExceeded):
        services.payout_request(provider=bound, actor=bound.user, method="airtime", amount=10 * PPT)
    settings.PAYOUT_DAILY_LIMIT, settings.PAYOUT_DAILY_MAX_COUNT = 100 * PPT, 2
    with pytest.raises(services.errors.PayoutDailyLimitExceeded):
        wallet_payout(bound, 10 * PPT)  # a third payout today, whatever the methods
    assert Payout.objects.count() == 2 and Withdrawal.objects.count() == 1 and available(bound) == 60 * PPT


def test_the_withdrawal_limit_applies_too(bound, settings):
    settings.WITHDRAWAL_DAILY_LIMIT = 40 * PPT
    withdrawal_request(provider=bound, address=ADDRESS, amount=20 * PPT)  # the wallet API, earlier today
    with pytest.raises(WithdrawalDailyLimitExceeded) as refused:
        wallet_payout(bound, 30 * PPT)
    assert refused.value.code == "withdrawal_daily_limit_exceeded"
    assert not Payout.objects.exists() and Withdrawal.objects.count() == 1


def test_history_and_limits_show_wallet_payouts(bound, settings, api_client_for):
    client = api_client_for(bound.user)
    created = client.post(reverse("payouts"), {"method": "wallet", "amount": 30 * PPT}, format="json")
    assert created.status_code == 201
    body = created.json()
    assert (body["method"], body["status"], body["currency"], body["fiat_amount"]) == (
        "wallet",
        "pending",
        "PPT",
        30 * PPT,
    )
    listing = client.get(reverse("payouts")).json()["results"]
    assert [(item["id"], item["method"]) for item in listing] == [(body["id"], "wallet")]
    assert client.get(reverse("payout", args=[body["id"]])).json()["pending_reason"] == services.AWAITING_SETTLEMENT
    limits = client.get(reverse("payouts-limits")).json()
    assert limits["methods"] == ["airtime", "cash", "wallet"]
    assert limits["used_today"] == 30 * PPT and limits["payouts_today"] == 1 and limits["available"] == 70 * PPT
    assert limits["minimums"]["wallet"] == max(settings.PAYOUT_MIN_AMOUNT, settings.WITHDRAWAL_MIN_AMOUNT)


def test_the_back_office_report_counts_wallet_payouts(bound, client):
    from apps.accounts.tests.factories import UserFactory

    wallet_payout(bound)
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    response = client.get(reverse("admin:incentives_payout_changelist"))
    report = response.context["daily_report"]
    assert [(row["method"], row["status"], row["currency"], row["fiat_amount"]) for row in report] == [
        ("wallet", "pending", "PPT", 30 * PPT)
    ]
    assert "30.000000 PPT" in response.content.decode()


# On a chain node: the settlement pays the withdrawal, and the payout follows it.


def funded_on_chain(sender) -> object:  # noqa: F811 - the chain fixture
    """A provider with 100 PPT issued to it (so the custodial wallet can be minted what it pays) and a bound
    address."""
    from apps.providers.tests.factories import ProviderFactory
    from apps.tokens.chain.supply import supply_sync
    from apps.tokens.services import account_open
    from apps.tokens.tests.conftest import fund

    provider = ProviderFactory()
    bind(provider)
    fund(account_open(provider=provider), 100 * PPT)
    tx = supply_sync(sender)
    assert sender.wait(tx).state == "confirmed"
    return provider


def test_the_payout_succeeds_when_its_withdrawal_settles(sender):  # noqa: F811
    from apps.tokens.chain.withdrawals import withdrawals_settle

    provider = funded_on_chain(sender)
    payout = wallet_payout(provider)
    assert len(withdrawals_settle(sender).sent) == 1
    assert services.payouts_check_pending() == 0  # in a batch, not final yet
    payout.refresh_from_db()
    assert payout.status == "pending" and payout.pending_reason == "in a settlement batch on chain"
    assert sender.sweep() == 0
    assert len(withdrawals_settle(sender).settled) == 1
    assert services.payouts_check_pending() == 1
    payout.refresh_from_db()
    assert payout.status == "succeeded" and payout.finished_at is not None and payout.pending_reason == ""
    withdrawal = Withdrawal.objects.get()
    assert ledger_bookings(provider) == [
        (withdrawal.transfer_id, "posted"),
        (f"{withdrawal.transfer_id}:post", "posted"),
    ]  # posted once, by the settlement; nothing of the payout's own
    assert available(provider) == 70 * PPT
    assert services.payouts_check_pending() == 0  # final: nothing more to do
    assert AuditLog.objects.filter(action="incentives.payout_succeeded", target_id=str(payout.pk)).count() == 1


def test_the_payout_fails_when_its_withdrawal_reverts(sender, chain_node):  # noqa: F811
    from apps.tokens.chain import ppt
    from apps.tokens.chain.withdrawals import withdrawals_settle

    provider = funded_on_chain(sender)
    payout = wallet_payout(provider, 60 * PPT)
    chain_node.chain.set_automine(False)
    # Something drains the custodial wallet first; the batch was estimated before it, and reverts when mined.
    ppt.token_transfer_batch(sender, reference="drain", recipients=[(OTHER, 100 * PPT)])
    assert len(withdrawals_settle(sender).sent) == 1
    chain_node.chain.mine()
    chain_node.chain.set_automine(True)
    assert sender.sweep() == 0
    assert len(withdrawals_settle(sender).failed) == 1
    assert services.payouts_check_pending() == 1
    payout.refresh_from_db()
    assert payout.status == "failed" and payout.failure_reason == "the chain transaction reverted"
    withdrawal = Withdrawal.objects.get()
    assert ledger_bookings(provider) == [
        (withdrawal.transfer_id, "voided"),
        (f"{withdrawal.transfer_id}:void", "voided"),
    ]  # voided once, by the settlement
    assert available(provider) == 100 * PPT  # back in the wallet
    assert payout_limits(provider=provider).used_today == 0  # a failed payout no longer counts against today's limit
