"""Payouts end to end against the airtime and PayWay fakes at the wire: every outcome, bad input, approval."""

from datetime import timedelta

import pytest
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.tests.conftest import PPT, available, earn
from apps.tokens.models import Transfer

pytestmark = pytest.mark.django_db


def request_payout(provider, method="airtime", amount=10 * PPT, **extra):
    return services.payout_request(provider=provider, actor=provider.user, method=method, amount=amount, **extra)


def send(payout):
    return services.payout_send(payout_id=payout.pk)


def ledger_status(payout) -> str:
    return Transfer.objects.get(id=payout.transfer_id).status


def test_airtime_success_posts_the_transfer(provider, airtime, rates):
    payout = request_payout(provider)
    assert payout.status == "queued" and available(provider) == 90 * PPT  # held at once
    payout = send(payout)
    assert payout.status == "succeeded" and ledger_status(payout) == "posted"
    topup = airtime.topup(payout.public_id)
    assert topup.amount == "0.25" and topup.number == provider.sims.get(verified_at__isnull=False).msisdn[4:]
    assert airtime.delivered == {payout.public_id: 1}
    assert available(provider) == 90 * PPT


def test_cash_success_to_the_whitelisted_account(provider, payway, cash_account, rates):
    assert cash_account.whitelisted_at is not None and payway.whitelist == {"000123456"}
    payout = send(request_payout(provider, method="cash", amount=40 * PPT))
    assert payout.status == "succeeded" and payout.fiat_amount == 100
    assert payway.payout(payout.public_id).amount == "1.00"
    assert ledger_status(payout) == "posted"


@pytest.mark.parametrize("method", ["airtime", "cash"])
def test_definite_failure_voids_and_gives_the_ppt_back(method, provider, airtime, payway, cash_account, rates):
    (airtime if method == "airtime" else payway).outcome_next("FAILED" if method == "airtime" else "DECLINED")
    payout = send(request_payout(provider, method=method))
    assert payout.status == "failed" and payout.failure_reason
    assert ledger_status(payout) == "voided" and available(provider) == 100 * PPT


@pytest.mark.parametrize("fault", ["done_then_timeout", "done_then_500", "done_then_reset"])
def test_unknown_outcome_stays_pending_until_a_status_check(fault, provider, airtime, rates):
    airtime.faults.next(fault)
    payout = send(request_payout(provider))
    assert payout.status == "pending" and payout.pending_reason
    assert ledger_status(payout) == "pending" and available(provider) == 90 * PPT
    assert services.payout_send(payout_id=payout.pk).status == "pending"  # never sent twice
    assert services.payouts_check_pending() == 1
    payout.refresh_from_db()
    assert payout.status == "succeeded" and ledger_status(payout) == "posted"
    assert airtime.delivered == {payout.public_id: 1} and len(airtime.topups) == 1


def test_503_before_anything_is_done_resolves_as_never_received(provider, airtime, rates, settings):
    airtime.faults.next("down")
    payout = send(request_payout(provider))
    assert payout.status == "pending"
    services.payouts_check_pending()
    payout.refresh_from_db()
    assert payout.status == "pending" and "not known" in payout.pending_reason  # too early to say
    later = payout.sent_at + timedelta(seconds=settings.PAYOUT_NOT_FOUND_GRACE_SECONDS + 1)
    services.payouts_check_pending(now=later)
    payout.refresh_from_db()
    assert payout.status == "failed" and ledger_status(payout) == "voided"
    assert airtime.topups == []


def test_processing_then_late_callback_resolves_once(provider, airtime, rates, settings):
    settings.AIRTIME_CALLBACK_URL = "http://testserver/api/payouts/callbacks/airtime"
    airtime.outcome_next("PROCESSING")
    payout = send(request_payout(provider))
    assert payout.status == "pending"
    airtime.settle(payout.public_id, "SUCCESSFUL", notify=False)
    body = airtime.topup(payout.public_id).as_json()
    client = __import__("rest_framework.test", fromlist=["APIClient"]).APIClient()
    first = client.post(reverse("payouts-callback", args=["airtime"]), body, format="json")
    again = client.post(reverse("payouts-callback", args=["airtime"]), body, format="json")  # a late repeat
    assert first.status_code == again.status_code == 200 and again.json()["status"] == "succeeded"
    assert Transfer.objects.filter(id__startswith=payout.transfer_id).count() == 2  # pending + one post
    forged = client.post(reverse("payouts-callback", args=["airtime"]), {"customIdentifier": "po_x"}, format="json")
    assert forged.status_code == 404


def test_a_callback_does_not_book_what_the_service_does_not_confirm(provider, airtime, rates):
    airtime.outcome_next("PROCESSING")
    payout = send(request_payout(provider))
    body = {**airtime.topup(payout.public_id).as_json(), "status": "SUCCESSFUL"}  # the callback's word only
    from rest_framework.test import APIClient

    APIClient().post(reverse("payouts-callback", args=["airtime"]), body, format="json")
    payout.refresh_from_db()
    assert payout.status == "pending" and ledger_status(payout) == "pending"


def test_refunded_top_up_fails_on_the_status_check(provider, airtime, rates):
    airtime.outcome_next("PROCESSING")
    payout = send(request_payout(provider))
    airtime.settle(payout.public_id, "REFUNDED", notify=False)
    services.payouts_check_pending()
    payout.refresh_from_db()
    assert payout.status == "failed" and available(provider) == 100 * PPT


def test_cash_timeout_then_status_check(provider, payway, cash_account, rates):
    payway.faults.next("done_then_timeout")
    payout = send(request_payout(provider, method="cash"))
    assert payout.status == "pending"
    assert services.payouts_check_pending() == 1
    payout.refresh_from_db()
    assert payout.status == "succeeded" and payway.delivered == {payout.public_id: 1}


@pytest.mark.parametrize(
    ("method", "amount", "extra", "code"),
    [
        ("airtime", 1 * PPT, {}, "payout_below_minimum"),
        ("airtime", 150 * PPT, {}, "payout_above_available"),
        ("wallet", 10 * PPT, {}, "wallet_not_bound"),  # no EVM address bound
        ("cash", 10 * PPT, {}, "payout_account_not_found"),
    ],
)
def test_bad_requests_book_nothing(method, amount, extra, code, provider, rates, api_client_for):
    response = api_client_for(provider.user).post(
        reverse("payouts"), {"method": method, "amount": amount, **extra}, format="json"
    )
    assert 400 <= response.status_code < 500 and response.json()["code"] == code
    assert not Payout.objects.exists() and available(provider) == 100 * PPT


def test_unverified_number_is_refused(provider, rates, api_client_for):
    unverified = provider.sims.get(verified_at__isnull=True)
    response = api_client_for(provider.user).post(
        reverse("payouts"), {"method": "airtime", "amount": 10 * PPT, "sim_id": unverified.pk}, format="json"
    )
    assert response.status_code == 422 and response.json()["code"] == "payout_number_unverified"
    assert not Payout.objects.exists()


def test_unwhitelisted_account_is_refused(provider, payway, rates, api_client_for):
    payway.faults.next("down")  # the whitelisting call fails
    client = api_client_for(provider.user)
    account = client.post(
        reverse("payouts-accounts"), {"account_number": "000999888", "holder_name": "Sok Dara"}, format="json"
    )
    assert account.status_code == 201 and account.json()["whitelisted"] is False
    response = client.post(reverse("payouts"), {"method": "cash", "amount": 10 * PPT}, format="json")
    assert response.status_code == 422 and response.json()["code"] == "payout_account_not_whitelisted"
    assert not Payout.objects.exists() and available(provider) == 100 * PPT


def test_pending_earnings_do_not_count(provider, rates):
    earn(provider, 500 * PPT, key="pending", pending=True)
    with pytest.raises(services.errors.PayoutAboveAvailable):
        request_payout(provider, amount=101 * PPT)


def test_daily_limit(provider, airtime, rates, settings):
    settings.PAYOUT_DAILY_LIMIT = 25 * PPT
    send(request_payout(provider, amount=20 * PPT))
    with pytest.raises(services.errors.PayoutDailyLimitExceeded):
        request_payout(provider, amount=10 * PPT)
    assert Payout.objects.count() == 1 and available(provider) == 80 * PPT


def test_daily_limits_over_http(provider, airtime, rates, settings, api_client_for):
    settings.PAYOUT_DAILY_LIMIT, settings.PAYOUT_DAILY_MAX_COUNT = 25 * PPT, 2
    client = api_client_for(provider.user)

    def ask(amount: int):
        return client.post(reverse("payouts"), {"method": "airtime", "amount": amount}, format="json")

    assert ask(20 * PPT).status_code == 201
    over = ask(10 * PPT)  # 30 PPT today: over the amount
    assert over.status_code == 422 and over.json()["code"] == "payout_daily_limit_exceeded"
    assert over.json()["details"] == {
        "daily_limit": 25 * PPT, "daily_max_count": 2, "used_today": 20 * PPT, "payouts_today": 1
    }  # fmt: skip
    assert ask(5 * PPT).status_code == 201  # exactly the limit
    settings.PAYOUT_DAILY_LIMIT = 100 * PPT
    third = ask(5 * PPT)  # within the amount, but a third payout today
    assert third.status_code == 422 and third.json()["code"] == "payout_daily_limit_exceeded"
    assert third.json()["details"]["payouts_today"] == 2
    assert Payout.objects.count() == 2 and available(provider) == 75 * PPT
    limits = client.get(reverse("payouts-limits")).json()
    assert (limits["used_today"], limits["payouts_today"], limits["remaining_today"]) == (25 * PPT, 2, 75 * PPT)


def test_large_payout_waits_for_a_staff_member(provider, airtime, rates, settings):
    from apps.accounts.tests.factories import UserFactory

    settings.PAYOUT_APPROVAL_ABOVE = 50 * PPT
    payout = request_payout(provider, amount=60 * PPT)
    assert payout.status == "awaiting_approval" and send(payout).status == "awaiting_approval"
    assert airtime.topups == []
    with pytest.raises(services.errors.PayoutApproverInvalid):
        services.payout_approve(actor=provider.user, payout_id=payout.pk)
    staff = UserFactory(is_staff=True)
    assert services.payout_approve(actor=staff, payout_id=payout.pk).status == "queued"
    assert send(payout).status == "succeeded"
    small = request_payout(provider, amount=20 * PPT)
    settings.PAYOUT_APPROVAL_ABOVE = 10 * PPT
    big = request_payout(provider, amount=11 * PPT)
    services.payout_reject(actor=staff, payout_id=big.pk, reason="unusual pattern")
    big.refresh_from_db()
    assert big.status == "rejected" and ledger_status(big) == "voided"
    assert small.status == "queued"
    actions = set(AuditLog.objects.values_list("action", flat=True))
    assert {"incentives.payout_approve", "incentives.payout_reject"} <= actions


def test_api_history_limits_and_etag(provider, airtime, rates, api_client_for):
    client = api_client_for(provider.user)
    created = client.post(reverse("payouts"), {"method": "airtime", "amount": 10 * PPT}, format="json")
    assert created.status_code == 201 and created.json()["status"] == "queued"
    listing = client.get(reverse("payouts"))
    assert [item["id"] for item in listing.json()["results"]] == [created.json()["id"]]
    assert client.get(reverse("payouts"), HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 304
    send(Payout.objects.get())
    assert client.get(reverse("payouts"), HTTP_IF_NONE_MATCH=listing["ETag"]).status_code == 200
    detail = client.get(reverse("payout", args=[created.json()["id"]]))
    assert detail.json()["status"] == "succeeded"
    limits = client.get(reverse("payouts-limits"))
    body = limits.json()
    assert body["available"] == 90 * PPT and body["used_today"] == 10 * PPT and body["payouts_today"] == 1
    assert client.get(reverse("payouts-limits"), HTTP_IF_NONE_MATCH=limits["ETag"]).status_code == 304
    from apps.providers.tests.factories import provider_with_sim

    stranger = api_client_for(provider_with_sim().user)
    assert stranger.get(reverse("payout", args=[created.json()["id"]])).status_code == 404


def test_queue_gauges(provider, airtime, rates):
    from apps.incentives.payouts.metrics import PayoutQueueCollector

    airtime.faults.next("done_then_500")
    send(request_payout(provider))
    families = {family.name: family for family in PayoutQueueCollector().collect()}
    pending = {sample.labels["method"]: sample.value for sample in families["peerpower_payouts_pending"].samples}
    assert pending == {"airtime": 1, "cash": 0, "wallet": 0}


def test_history_queries_do_not_grow_with_the_page(provider, rates, api_client_for):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api_client_for(provider.user)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("payouts")).status_code == 200
        return len(captured)

    request_payout(provider)
    queries()  # the first request loads the phone's session into this process's cache
    one = queries()
    for _ in range(3):
        request_payout(provider)
    assert queries() == one
