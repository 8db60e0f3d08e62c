"""Payouts under real concurrency on PostgreSQL (threads, each with its own connection, released together by a
barrier): requests for more than the balance allows book exactly what fits (by airtime, and by wallet, whose
withdrawals are booked once each); a status check racing a callback ends in one outcome."""

import threading
from collections.abc import Callable
from functools import partial

import pytest
from django.db import connection, connections

from apps.audit.models import AuditLog
from apps.core.errors import DomainError
from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.tests.conftest import PPT, available
from apps.tokens.models import Transfer

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL"),
]


def together(calls: list[Callable[[], object]]) -> tuple[list, list]:
    barrier = threading.Barrier(len(calls))
    results: list = []
    refusals: list = []
    unexpected: list = []

    def work(call: Callable[[], object]) -> None:
        try:
            barrier.wait(timeout=30)
            results.append(call())
        except DomainError as error:
            refusals.append(error)
        except Exception as error:  # noqa: BLE001 - reported below
            unexpected.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert unexpected == []
    return results, refusals


def test_eight_requests_for_more_than_the_balance_book_exactly_what_fits(provider, rates, settings):
    settings.PAYOUT_DAILY_MAX_COUNT = 100
    calls = [
        lambda: services.payout_request(provider=provider, actor=provider.user, method="airtime", amount=30 * PPT)
        for _ in range(8)
    ]
    results, refusals = together(calls)
    assert len(results) == 3 and len(refusals) == 5
    assert {error.code for error in refusals} == {"payout_above_available"}
    assert Payout.objects.count() == 3 and available(provider) == 10 * PPT
    assert Transfer.objects.filter(id__startswith="payout:", status="pending").count() == 3


def test_eight_wallet_payouts_for_more_than_the_balance_book_exactly_what_fits(provider, settings):
    from apps.tokens.models import Withdrawal

    settings.PAYOUT_DAILY_MAX_COUNT = 100
    provider.user.evm_address = "0x" + "A1" * 20
    provider.user.save(update_fields=["evm_address"])
    calls = [
        partial(services.payout_request, provider=provider, actor=provider.user, method="wallet", amount=30 * PPT)
        for _ in range(8)
    ]
    results, refusals = together(calls)
    assert len(results) == 3 and len(refusals) == 5
    assert {error.code for error in refusals} == {"payout_above_available"}
    assert Payout.objects.filter(status="pending").count() == 3 and available(provider) == 10 * PPT
    # One withdrawal per payout, its pending transfer the only booking: no payout transfer of their own.
    withdrawals = Withdrawal.objects.filter(reference__in=[f"payout:{payout.public_id}" for payout in results])
    assert withdrawals.count() == Withdrawal.objects.count() == 3
    assert {payout.external_id for payout in results} == set(withdrawals.values_list("public_id", flat=True))
    assert Transfer.objects.filter(id__startswith="withdrawal:", status="pending").count() == 3
    assert not Transfer.objects.filter(id__startswith="payout:").exists()


def test_a_status_check_racing_a_callback_ends_in_one_outcome(provider, airtime, rates):
    for _ in range(3):
        airtime.outcome_next("PROCESSING")
        payout = services.payout_send(
            payout_id=services.payout_request(
                provider=provider, actor=provider.user, method="airtime", amount=10 * PPT
            ).pk
        )
        assert payout.status == "pending"
        airtime.settle(payout.public_id, notify=False)
        check = partial(services.payout_check, payout_id=payout.pk)
        callback = partial(services.payout_callback_receive, method="airtime", reference=payout.public_id)
        _, refusals = together([check, callback, check])
        assert refusals == []
        payout.refresh_from_db()
        assert payout.status == "succeeded"
        assert Transfer.objects.filter(id__startswith=payout.transfer_id).count() == 2  # pending + one post
        assert AuditLog.objects.filter(action="incentives.payout_succeeded", target_id=str(payout.pk)).count() == 1
    assert available(provider) == 70 * PPT


def test_an_erasure_racing_payout_requests_never_leaves_a_payout_in_flight_for_an_erased_person(provider, rates):
    from apps.accounts.services import user_erase
    from apps.incentives.payouts.privacy import IN_FLIGHT

    erase = partial(user_erase, user=provider.user, actor=provider.user)
    request = partial(services.payout_request, provider=provider, actor=provider.user, method="airtime", amount=PPT)
    _, refusals = together([erase, request, request, request])
    provider.user.refresh_from_db()
    in_flight = Payout.objects.filter(provider=provider, status__in=IN_FLIGHT).count()
    if provider.user.phone.startswith("+0"):  # the erasure went first: every request after it was refused
        assert in_flight == 0 and len(refusals) == 3
    else:  # a request went first: the erasure waited for its money
        assert in_flight >= 1 and "erasure_money_in_flight" in {error.code for error in refusals}
