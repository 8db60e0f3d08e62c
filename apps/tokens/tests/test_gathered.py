"""`transfers_gathered`: the `transfers_book` calls of a block (a delivered message's charge capture and its reward)
are booked as one batch at its end, each caller's check run on its own results; nothing is booked if the block
raises, and outside a transaction each books at once."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.tokens.choices import Result
from apps.tokens.models import Transfer
from apps.tokens.services import TransferSpec, transfers_book, transfers_gathered
from apps.tokens.tests.conftest import fund, next_id

pytestmark = pytest.mark.django_db(transaction=True)


def spec(debit, credit, amount: int = 5, **extra) -> TransferSpec:
    return TransferSpec(
        id=next_id("gathered"), amount=amount, debit_account_id=debit.pk, credit_account_id=credit.pk, **extra
    )


class Seen:
    """A check that records what it was handed."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []

    def __call__(self, specs, results) -> None:
        self.calls.append(([s.id for s in specs], list(results)))


def test_two_callers_book_in_one_batch_and_each_sees_its_own_results(client_account, provider_account, revenue):
    fund(client_account, 100)
    first, second = Seen(), Seen()
    charge = spec(client_account, revenue, 10)
    reward = spec(revenue, provider_account, 3)
    too_much = spec(client_account, revenue, 1_000)
    with transaction.atomic(), transfers_gathered():
        transfers_book([charge], check=first)
        transfers_book([reward, too_much], check=second)
        assert not Transfer.objects.filter(id__in=[charge.id, reward.id]).exists()  # not yet: at the block's end
    assert first.calls == [([charge.id], [Result.OK])]
    assert second.calls == [([reward.id, too_much.id], [Result.OK, Result.EXCEEDS_CREDITS])]
    assert set(Transfer.objects.filter(id__in=[charge.id, reward.id]).values_list("id", flat=True)) == {
        charge.id,
        reward.id,
    }


def test_one_ledger_batch_for_the_block(client_account, provider_account, revenue):
    fund(client_account, 100)
    with transaction.atomic():
        with CaptureQueriesContext(connection) as gathered, transfers_gathered():
            transfers_book([spec(client_account, revenue)], check=Seen())
            transfers_book([spec(revenue, provider_account)], check=Seen())
        with CaptureQueriesContext(connection) as alone:
            transfers_book([spec(client_account, revenue)], check=Seen())
            transfers_book([spec(revenue, provider_account)], check=Seen())
    assert len(gathered) * 2 == len(alone), (len(gathered), len(alone))


def test_a_check_that_raises_rolls_the_transaction_back(client_account, revenue):
    fund(client_account, 100)
    booked = spec(client_account, revenue)

    def refuse(specs, results) -> None:
        raise RuntimeError("refused")

    with pytest.raises(RuntimeError, match="refused"), transaction.atomic(), transfers_gathered():
        transfers_book([booked], check=refuse)
    assert not Transfer.objects.filter(id=booked.id).exists()


def test_a_block_that_raises_books_nothing(client_account, revenue):
    fund(client_account, 100)
    seen = Seen()
    booked = spec(client_account, revenue)
    with transaction.atomic():
        with pytest.raises(ValueError), transfers_gathered():
            transfers_book([booked], check=seen)
            raise ValueError("the move failed")
    assert not seen.calls
    assert not Transfer.objects.filter(id=booked.id).exists()


def test_outside_a_transaction_and_for_a_linked_chain_each_books_at_once(client_account, revenue):
    fund(client_account, 100)
    seen = Seen()
    alone = spec(client_account, revenue)
    with transfers_gathered():  # autocommit: nothing would make the later batch atomic with the block's work
        transfers_book([alone], check=seen)
        assert Transfer.objects.filter(id=alone.id).exists()
    linked = spec(client_account, revenue, linked=True)
    with transaction.atomic(), transfers_gathered():
        transfers_book([linked], check=seen)  # an open chain is booked at once (and refused as open)
        assert seen.calls[-1] == ([linked.id], [Result.LINKED_EVENT_CHAIN_OPEN])
    assert seen.calls[0] == ([alone.id], [Result.OK])


def test_nested_blocks_book_once_at_the_outer_end(client_account, revenue):
    fund(client_account, 100)
    seen = Seen()
    inner = spec(client_account, revenue)
    with transaction.atomic(), transfers_gathered():
        with transfers_gathered():
            transfers_book([inner], check=seen)
        assert not seen.calls
    assert seen.calls == [([inner.id], [Result.OK])]
