"""`transfers_create` answers one result per transfer, like TigerBeetle's create_transfers; a refused transfer
changes nothing. Each result code has a test here."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.tokens.choices import LedgerCode, PlatformAccount, Reason
from apps.tokens.errors import TransferRefused
from apps.tokens.models import Account, Transfer
from apps.tokens.selectors import account_balance
from apps.tokens.services import (
    TransferSpec,
    account_open,
    platform_account,
    transfer_create,
    transfer_post,
    transfer_void,
    transfers_create,
)
from apps.tokens.tests.conftest import fund, next_id

pytestmark = pytest.mark.django_db


def totals(account) -> tuple[int, int, int, int]:
    account.refresh_from_db()
    balance = account_balance(account)
    return balance.debits_pending, balance.debits_posted, balance.credits_pending, balance.credits_posted


def charge(client_account, revenue, amount, **fields) -> TransferSpec:
    fields.setdefault("id", next_id("charge"))
    return TransferSpec(
        amount=amount, debit_account_id=client_account.pk, credit_account_id=revenue.pk, reason=Reason.CHARGE, **fields
    )


def test_ok_moves_the_amount_and_exists_answers_a_repeat(client_account, revenue):
    fund(client_account, 1000)
    spec = charge(client_account, revenue, 300, id="charge:message:1", message_id=1)
    assert transfers_create([spec]) == ["ok"]
    assert transfers_create([spec]) == ["exists"]
    assert totals(client_account) == (0, 300, 0, 1000)
    assert account_balance(client_account).available == 700
    assert totals(revenue) == (0, 0, 0, 300)


def test_same_id_with_different_fields(client_account, revenue):
    fund(client_account, 1000)
    spec = charge(client_account, revenue, 300, id="charge:message:2")
    assert transfers_create([spec]) == ["ok"]
    assert transfers_create([charge(client_account, revenue, 301, id="charge:message:2")]) == [
        "exists_with_different_fields"
    ]
    assert transfers_create([charge(client_account, revenue, 300, id="charge:message:2", memo="x")]) == [
        "exists_with_different_fields"
    ]
    assert totals(client_account) == (0, 300, 0, 1000)


def test_a_repeated_id_inside_one_batch_applies_once(client_account, revenue):
    fund(client_account, 1000)
    spec = charge(client_account, revenue, 100)
    assert transfers_create([spec, spec, charge(client_account, revenue, 5, id=spec.id)]) == [
        "ok",
        "exists",
        "exists_with_different_fields",
    ]
    assert totals(client_account)[1] == 100


def test_exceeds_credits(client_account, revenue):
    fund(client_account, 100)
    assert transfers_create([charge(client_account, revenue, 101)]) == ["exceeds_credits"]
    # A pending hold counts against the bound as well.
    assert transfers_create([charge(client_account, revenue, 60, pending=True)]) == ["ok"]
    assert transfers_create([charge(client_account, revenue, 41)]) == ["exceeds_credits"]
    assert transfers_create([charge(client_account, revenue, 40)]) == ["ok"]
    assert totals(client_account) == (60, 40, 0, 100)


def test_exceeds_debits(db):
    # An account whose credits may not pass its debits (a liability that can only be repaid).
    ledger = platform_account(PlatformAccount.CLEARING).ledger
    bounded = Account.objects.create(
        ledger=ledger,
        owner_kind="platform",
        platform=PlatformAccount.PAYOUTS_IN_FLIGHT,
        credits_must_not_exceed_debits=True,
    )
    other = platform_account(PlatformAccount.CLEARING)
    assert transfers_create(
        [TransferSpec(id="x:1", amount=5, debit_account_id=other.pk, credit_account_id=bounded.pk)]
    ) == ["exceeds_debits"]
    assert transfers_create(
        [
            TransferSpec(id="x:2", amount=5, debit_account_id=bounded.pk, credit_account_id=other.pk),
            TransferSpec(id="x:3", amount=5, debit_account_id=other.pk, credit_account_id=bounded.pk),
        ]
    ) == ["ok", "ok"]


@pytest.mark.parametrize(
    ("fields", "result"),
    [
        ({"amount": 0}, "amount_invalid"),
        ({"amount": -5}, "amount_invalid"),
        ({"amount": 1.5}, "amount_invalid"),
        ({"amount": "10"}, "amount_invalid"),
        ({"amount": True}, "amount_invalid"),
        ({"amount": 2**63}, "amount_invalid"),
        ({"amount": None}, "amount_invalid"),
        ({"id": ""}, "id_invalid"),
        ({"id": "x" * 129}, "id_invalid"),
        ({"reason": "gift"}, "reason_invalid"),
        ({"ledger": "EUR"}, "ledger_invalid"),
        ({"ledger": "KHR"}, "ledger_mismatch"),
        ({"debit_account_id": 0}, "account_missing"),
        ({"credit_account_id": None}, "account_missing"),
        ({"timeout_seconds": 30}, "timeout_invalid"),
        ({"pending": True, "timeout_seconds": -1}, "timeout_invalid"),
        ({"pending": True, "post_pending_id": "p"}, "flags_are_mutually_exclusive"),
        ({"post_pending_id": "p", "void_pending_id": "p"}, "flags_are_mutually_exclusive"),
    ],
)
def test_bad_input_gets_its_code_and_books_nothing(client_account, revenue, fields, result):
    fund(client_account, 1000)
    base = {"id": next_id(), "amount": 10, "debit_account_id": client_account.pk, "credit_account_id": revenue.pk}
    spec = TransferSpec(**{**base, **fields})
    before = Transfer.objects.count()
    assert transfers_create([spec]) == [result]
    assert Transfer.objects.count() == before
    assert totals(client_account) == (0, 0, 0, 1000)


def test_accounts_must_be_different(client_account):
    fund(client_account, 10)
    spec = TransferSpec(id=next_id(), amount=1, debit_account_id=client_account.pk, credit_account_id=client_account.pk)
    assert transfers_create([spec]) == ["accounts_must_be_different"]


def test_accounts_on_different_ledgers(client_account, organization):
    riel = account_open(organization=organization, ledger=LedgerCode.KHR)
    fund(client_account, 10)
    spec = TransferSpec(id=next_id(), amount=1, debit_account_id=client_account.pk, credit_account_id=riel.pk)
    assert transfers_create([spec]) == ["ledger_mismatch"]


def test_pending_then_partial_post_releases_the_rest(client_account, revenue):
    fund(client_account, 1000)
    hold = charge(client_account, revenue, 300, pending=True, timeout_seconds=60)
    assert transfers_create([hold]) == ["ok"]
    assert totals(client_account) == (300, 0, 0, 1000)
    assert totals(revenue) == (0, 0, 300, 0)
    post = transfer_post(id=f"{hold.id}:post", pending_id=hold.id, amount=200)
    assert (post.amount, post.kind, post.reason) == (200, "post", "charge")
    assert Transfer.objects.get(id=hold.id).status == "posted"
    assert totals(client_account) == (0, 200, 0, 1000)
    assert totals(revenue) == (0, 0, 0, 200)
    # Posting again with the same id is harmless; with another id it is refused.
    assert transfer_post(id=f"{hold.id}:post", pending_id=hold.id, amount=200).pk == post.pk
    with pytest.raises(TransferRefused) as refused:
        transfer_post(id=f"{hold.id}:post-again", pending_id=hold.id)
    assert refused.value.code == "pending_transfer_already_posted"
    with pytest.raises(TransferRefused) as refused:
        transfer_void(id=f"{hold.id}:void", pending_id=hold.id)
    assert refused.value.code == "pending_transfer_already_posted"


def test_post_more_than_pending_and_voided_transfers(client_account, revenue):
    fund(client_account, 1000)
    hold = charge(client_account, revenue, 300, pending=True)
    transfers_create([hold])
    post = TransferSpec(id=next_id(), post_pending_id=hold.id, amount=301, reason=Reason.CHARGE)
    assert transfers_create([post]) == ["exceeds_pending_transfer_amount"]
    transfer_void(id=f"{hold.id}:void", pending_id=hold.id)
    assert totals(client_account) == (0, 0, 0, 1000)
    for spec, result in [
        (TransferSpec(id=next_id(), post_pending_id=hold.id, reason=Reason.CHARGE), "pending_transfer_already_voided"),
        (TransferSpec(id=next_id(), void_pending_id=hold.id, reason=Reason.CHARGE), "pending_transfer_already_voided"),
        (TransferSpec(id=next_id(), post_pending_id="nope", reason=Reason.CHARGE), "pending_transfer_missing"),
    ]:
        assert transfers_create([spec]) == [result]


def test_post_of_a_transfer_that_is_not_pending(client_account, revenue):
    fund(client_account, 100)
    single = charge(client_account, revenue, 10)
    transfers_create([single])
    spec = TransferSpec(id=next_id(), post_pending_id=single.id, reason=Reason.CHARGE)
    assert transfers_create([spec]) == ["pending_transfer_not_pending"]


def test_post_with_other_accounts(client_account, revenue, issuance):
    fund(client_account, 100)
    hold = charge(client_account, revenue, 10, pending=True)
    transfers_create([hold])
    spec = TransferSpec(id=next_id(), post_pending_id=hold.id, credit_account_id=issuance.pk, reason=Reason.CHARGE)
    assert transfers_create([spec]) == ["pending_transfer_has_different_accounts"]


def test_timed_out_pending_transfer_cannot_be_posted_and_expires(client_account, revenue):
    from apps.tokens.services import pending_transfers_expire

    fund(client_account, 100)
    start = timezone.now()
    hold = charge(client_account, revenue, 40, pending=True, timeout_seconds=30)
    transfers_create([hold], now=start)
    later = start + timedelta(seconds=31)
    post = TransferSpec(id=next_id(), post_pending_id=hold.id, reason=Reason.CHARGE)
    assert transfers_create([post], now=later) == ["pending_transfer_expired"]
    assert pending_transfers_expire(now=start + timedelta(seconds=29)) == 0
    assert pending_transfers_expire(now=later) == 1
    assert pending_transfers_expire(now=later) == 0
    assert Transfer.objects.get(id=hold.id).status == "expired"
    assert totals(client_account) == (0, 0, 0, 100)
    assert totals(revenue) == (0, 0, 0, 0)
    assert transfers_create([post], now=later) == ["pending_transfer_expired"]


def test_linked_chain_applies_all_or_none(client_account, revenue, provider_account):
    fund(client_account, 100)
    ok_first = charge(client_account, revenue, 60, linked=True)
    too_much = TransferSpec(
        id=next_id(), amount=50, debit_account_id=client_account.pk, credit_account_id=provider_account.pk
    )
    alone = charge(client_account, revenue, 30)
    assert transfers_create([ok_first, too_much, alone]) == ["linked_event_failed", "exceeds_credits", "ok"]
    assert totals(client_account) == (0, 30, 0, 100)
    assert not Transfer.objects.filter(id__in=[ok_first.id, too_much.id]).exists()
    # A chain that fits applies whole; the pending transfer it creates can be posted inside the same chain.
    hold = charge(client_account, revenue, 20, pending=True, linked=True)
    post = TransferSpec(id=next_id(), post_pending_id=hold.id, amount=15, reason=Reason.CHARGE)
    assert transfers_create([hold, post]) == ["ok", "ok"]
    assert totals(client_account) == (0, 45, 0, 100)


def test_a_failed_chain_undoes_a_post_inside_it(client_account, revenue):
    fund(client_account, 100)
    hold = charge(client_account, revenue, 20, pending=True)
    transfers_create([hold])
    post = TransferSpec(id=next_id(), post_pending_id=hold.id, reason=Reason.CHARGE, linked=True)
    bad = charge(client_account, revenue, 1000)
    assert transfers_create([post, bad]) == ["linked_event_failed", "exceeds_credits"]
    assert Transfer.objects.get(id=hold.id).status == "pending"
    assert totals(client_account) == (20, 0, 0, 100)


def test_linked_event_chain_open(client_account, revenue):
    fund(client_account, 100)
    specs = [charge(client_account, revenue, 1), charge(client_account, revenue, 1, linked=True)]
    specs.append(charge(client_account, revenue, 1, linked=True))
    assert transfers_create(specs) == ["ok", "linked_event_chain_open", "linked_event_chain_open"]
    assert totals(client_account)[1] == 1


def test_single_transfer_service_raises_with_the_result_code(client_account, revenue):
    with pytest.raises(TransferRefused) as refused:
        transfer_create(charge(client_account, revenue, 1))
    assert (refused.value.code, refused.value.status_code) == ("exceeds_credits", 409)


def test_a_hot_account_balance_counts_changes_not_rolled_up_yet(client_account, revenue):
    from apps.tokens.services import hot_balances_roll_up

    fund(client_account, 100)
    transfers_create([charge(client_account, revenue, 30), charge(client_account, revenue, 5, pending=True)])
    assert totals(revenue) == (0, 0, 5, 30)
    hot_balances_roll_up()
    assert totals(revenue) == (0, 0, 5, 30)
    revenue.refresh_from_db()
    assert (revenue.credits_pending, revenue.credits_posted) == (5, 30)
