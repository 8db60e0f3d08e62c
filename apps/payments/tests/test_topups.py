"""Top-ups end to end: the API and the real Baray client (httpx) against the Baray fake at the wire; the webhook as
Baray posts it; the ledger checked after each flow."""

import base64
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client import REGISTRY

from apps.accounts.tests.factories import UserFactory
from apps.delivery.webhooks.models import WebhookEvent
from apps.payments.baray import AesKey
from apps.payments.models import BarayExchange, TopUp
from apps.payments.services import topups_reconcile
from apps.payments.tests.conftest import key_client, notify
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open

TOPUPS = "/api/billing/topups"


def webhook_count(outcome: str) -> float:
    return REGISTRY.get_sample_value("peerpower_baray_webhooks_total", {"outcome": outcome}) or 0.0


@pytest.fixture
def subscribed(organization):
    """A webhook endpoint of the client's, subscribed to payment events (so they are stored)."""
    from apps.delivery.webhooks.services import webhook_endpoint_create

    return webhook_endpoint_create(
        organization=organization,
        actor=None,
        url="http://127.0.0.1:9/hooks",
        event_types=["payment.succeeded", "payment.failed"],
    )


def create(client_api, **body) -> dict:
    response = client_api.post(TOPUPS, {"amount": "10.00", "currency": "USD", **body}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def balance(organization) -> int:
    return account_balance(account_open(organization=organization)).available


def test_a_checkout_top_up_creates_an_encrypted_intent_at_the_rate_in_force(client_api, baray, rates):
    topup = create(client_api)
    assert topup["status"] == "pending"
    assert topup["amount"] == {"amount": 1000, "decimal": "10.00"}
    assert topup["ppt"] == {"amount": 400_000_000, "decimal": "400.000000"}  # 10 USD x 40 PPT
    assert topup["rate"] == {"ppt_per_unit": "40", "rate_id": rates["USD"].pk}
    [intent] = baray.intents
    assert topup["checkout_url"] == f"{baray.checkout_url}/{intent.id}"
    assert (intent.order_id, intent.amount, intent.currency) == (topup["id"], "10.00", "USD")
    assert topup["khqr"] == topup["deeplink"] == ""
    # The back office sees the exchange in clear, without the API key.
    exchange = BarayExchange.objects.get(topup__public_id=topup["id"])
    assert exchange.request_body["order_id"] == topup["id"]
    assert exchange.response_body["_id"] == intent.id
    assert "pk_dev" not in json.dumps([exchange.request_body, exchange.response_body])


def test_an_aba_top_up_answers_the_khqr_string_and_deeplink(client_api, baray, rates):
    topup = create(client_api, amount="40000", currency="KHR", method="aba_khqr")
    assert topup["ppt"]["decimal"] == "400.000000"
    assert topup["khqr"].startswith("000201")
    assert topup["deeplink"].startswith("abamobilebank://")
    assert baray.requests == [("POST", "/payments/aba/pay_qr")]


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"amount": "0", "currency": "USD"}, "amount_not_positive"),
        ({"amount": -5, "currency": "USD"}, "amount_not_positive"),
        ({"amount": "10.001", "currency": "USD"}, "amount_too_precise"),
        ({"amount": "40000.5", "currency": "KHR"}, "amount_too_precise"),
        ({"amount": "0.99", "currency": "USD"}, "amount_below_minimum"),
        ({"amount": "10000.01", "currency": "USD"}, "amount_above_maximum"),
        ({"amount": 1e300, "currency": "KHR"}, "amount_above_maximum"),
        ({"amount": "1e3", "currency": "KHR"}, "amount_invalid"),
        ({"amount": " 10", "currency": "USD"}, "amount_invalid"),
        ({"amount": "ten", "currency": "USD"}, "amount_invalid"),
        ({"amount": "NaN", "currency": "USD"}, "amount_invalid"),
        ({"amount": True, "currency": "USD"}, "amount_invalid"),
        ({"amount": {"value": 1}, "currency": "USD"}, "amount_invalid"),
        ({"amount": "10", "currency": "EUR"}, "currency_unsupported"),
        ({"amount": "10", "currency": "usd"}, "currency_unsupported"),
        ({"amount": "10", "currency": "USD", "method": "card"}, "validation_error"),
        ({"currency": "USD"}, "validation_error"),
    ],
)
def test_bad_input_is_400_with_a_stable_code_and_reaches_nobody(client_api, baray, rates, body, code):
    response = client_api.post(TOPUPS, body, format="json")
    assert response.status_code == 400, response.json()
    assert response.json()["code"] == code
    assert baray.requests == []
    assert not TopUp.objects.exists()


def test_an_organisation_the_caller_does_not_belong_to_is_404(client_api, organization, api_client_for, baray, rates):
    from apps.accounts.services import client_create

    other = client_create(user=UserFactory(), name="Other")
    by_key = client_api.post(TOPUPS, {"amount": "10", "currency": "USD", "organization": other.pk}, format="json")
    assert (by_key.status_code, by_key.json()["code"]) == (404, "organization_not_found")
    stranger = api_client_for(UserFactory())
    by_jwt = stranger.post(TOPUPS, {"amount": "10", "currency": "USD", "organization": organization.pk}, format="json")
    assert (by_jwt.status_code, by_jwt.json()["code"]) == (404, "organization_not_found")
    # A member tops up their organisation with their JWT.
    member = api_client_for(organization.memberships.get().user)
    assert member.post(TOPUPS, {"amount": "10", "currency": "USD"}, format="json").status_code == 201
    # One organisation's top-up is unknown to another.
    topup_id = TopUp.objects.get().public_id
    assert key_client(other).get(f"{TOPUPS}/{topup_id}").json()["code"] == "topup_not_found"
    assert baray.requests == [("POST", "/pay")]


def test_no_rate_in_force_is_503(client_api, baray, rates):
    now = timezone.now()
    rates["USD"].valid_from, rates["USD"].valid_until = now - timedelta(hours=2), now - timedelta(hours=1)
    rates["USD"].save()
    response = client_api.post(TOPUPS, {"amount": "10", "currency": "USD"}, format="json")
    assert (response.status_code, response.json()["code"]) == (503, "exchange_rate_unavailable")


def test_paid_issues_once_and_the_client_sees_it(client_api, organization, baray, rates, subscribed):
    topup = create(client_api)
    intent = baray.intents[0]
    baray.pay(intent.id, notify=False)
    response = notify(baray.webhook_body(topup["id"]))
    assert response.json() == {"received": True, "outcome": "settled"}
    assert balance(organization) == 400_000_000
    seen = client_api.get(f"{TOPUPS}/{topup['id']}").json()
    assert (seen["status"], seen["settled_at"] is not None) == ("succeeded", True)
    [event] = WebhookEvent.objects.filter(organization=organization)
    body = json.loads(event.body)
    assert (event.type, body["data"]["topup"]["id"], body["data"]["topup"]["status"]) == (
        "payment.succeeded",
        topup["id"],
        "succeeded",
    )
    # Replays (Baray's retries, or someone's) change nothing and are counted.
    before = webhook_count("replayed")
    for _ in range(3):
        assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "replayed"
    assert webhook_count("replayed") == before + 3
    assert Transfer.objects.filter(payment_ref=topup["id"]).count() == 1
    assert balance(organization) == 400_000_000
    assert WebhookEvent.objects.count() == 1
    assert ledger_check().breaks == 0


def test_the_checkout_page_pays_and_the_fake_posts_the_encrypted_order_id(client_api, baray, rates):
    import httpx

    from apps.delivery.tests.webhook_receiver import WebhookReceiver

    topup = create(client_api)
    page = httpx.get(topup["checkout_url"])
    assert page.status_code == 200 and "Pay" in page.text
    with WebhookReceiver() as receiver:
        baray.webhook_url = receiver.url()
        paid = httpx.post(f"{topup['checkout_url']}/pay")
        assert paid.status_code == 303
        deadline = time.monotonic() + 5  # the fake posts from its own thread, after the page answered
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.01)
    [received] = receiver.requests
    encrypted = json.loads(received.body)["encrypted_order_id"]
    assert AesKey(baray.webhook_key.secret_key, baray.webhook_key.iv).decrypt(encrypted) == topup["id"]
    assert baray.intents[0].status == "success"


def test_failed_is_marked_and_told_and_issues_nothing(client_api, organization, baray, rates, subscribed):
    topup = create(client_api)
    baray.fail(baray.intents[0].id, notify=False)
    assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "settled"
    assert client_api.get(f"{TOPUPS}/{topup['id']}").json()["status"] == "failed"
    assert [e.type for e in WebhookEvent.objects.all()] == ["payment.failed"]
    assert balance(organization) == 0


def test_unpaid_past_its_time_is_expired_by_the_reconciliation(client_api, organization, baray, rates, subscribed):
    topup = create(client_api)
    created = TopUp.objects.get()
    # Not yet due: Baray is asked, it is still pending, nothing changes.
    assert topups_reconcile(now=created.created_at + timedelta(minutes=2)) == 1
    assert TopUp.objects.get().status == "pending"
    assert topups_reconcile(now=created.expires_at + timedelta(minutes=2)) == 1
    seen = client_api.get(f"{TOPUPS}/{topup['id']}").json()
    assert (seen["status"], seen["failure_reason"]) == ("expired", "not paid in time")
    assert [e.type for e in WebhookEvent.objects.all()] == ["payment.failed"]
    # Paid after all (late), Baray's word wins: issued once.
    baray.pay(baray.intents[0].id, notify=False)
    assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "settled"
    assert balance(organization) == 400_000_000


def test_expired_at_baray_is_expired_here(client_api, baray, rates):
    topup = create(client_api)
    baray.expire(baray.intents[0].id)
    topups_reconcile(now=timezone.now() + timedelta(minutes=2))
    assert TopUp.objects.get(public_id=topup["id"]).status == "expired"


def test_a_lost_webhook_is_made_good_by_the_reconciliation(client_api, organization, baray, rates):
    create(client_api)
    baray.pay(baray.intents[0].id, notify=False)
    topups_reconcile(now=timezone.now() + timedelta(minutes=2))
    assert balance(organization) == 400_000_000


def forged_bodies(baray, order_id: str) -> list[bytes]:
    other_key = AesKey(base64.b64encode(b"k" * 32).decode(), base64.b64encode(b"i" * 16).decode())
    valid = json.loads(baray.webhook_body(order_id))["encrypted_order_id"]
    flipped = bytearray(base64.b64decode(valid))
    flipped[-1] ^= 1  # breaks the padding
    return [
        b"",
        b"not json",
        b"[]",
        b'{"order_id": "%s"}' % order_id.encode(),
        json.dumps({"encrypted_order_id": 12}).encode(),
        json.dumps({"encrypted_order_id": "***"}).encode(),
        json.dumps({"encrypted_order_id": base64.b64encode(b"short").decode()}).encode(),
        json.dumps({"encrypted_order_id": base64.b64encode(bytes(flipped)).decode()}).encode(),
        json.dumps({"encrypted_order_id": other_key.encrypt(order_id)}).encode(),
        baray.webhook_body("top_000000000000000000000000"),  # well encrypted, no such order
    ]


def test_forged_and_garbage_notifications_get_one_answer_and_change_nothing(client_api, organization, baray, rates):
    topup = create(client_api)
    baray.pay(baray.intents[0].id, notify=False)
    bodies = forged_bodies(baray, topup["id"])
    before = webhook_count("invalid")
    answers = {(r.status_code, r.content) for r in (notify(body) for body in bodies)}
    assert len(answers) == 1
    [(status, content)] = answers
    assert (status, json.loads(content)["code"]) == (400, "notification_invalid")
    assert webhook_count("invalid") == before + len(bodies)
    assert not BarayExchange.objects.filter(kind="webhook").exists()  # anyone can post: a flood grows no table
    assert TopUp.objects.get().status == "pending"
    assert balance(organization) == 0
    assert ("GET", f"/pay/{baray.intents[0].id}") not in baray.requests  # Baray was not even asked


def test_an_amount_mismatch_changes_nothing(client_api, organization, baray, rates):
    topup = create(client_api)
    intent = baray.intents[0]
    baray.pay(intent.id, notify=False)
    baray.tamper(intent.id, amount="1.00")
    assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "mismatch"
    baray.tamper(intent.id, amount="10.00", currency="KHR")
    assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "mismatch"
    assert TopUp.objects.get().status == "pending"
    assert balance(organization) == 0
    assert BarayExchange.objects.filter(outcome="mismatch").count() == 2


def test_baray_down_then_up(client_api, organization, baray, rates):
    baray.down()
    refused = client_api.post(TOPUPS, {"amount": "10", "currency": "USD"}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (503, "payment_provider_unavailable")
    assert TopUp.objects.get().status == "failed"  # nothing left waiting for a payment that cannot come
    baray.up()
    topup = create(client_api)
    baray.pay(baray.intents[0].id, notify=False)
    baray.down()
    # Baray cannot confirm: 503 so that Baray sends it again; nothing changes.
    unconfirmed = notify(baray.webhook_body(topup["id"]))
    assert (unconfirmed.status_code, unconfirmed.json()["code"]) == (503, "payment_provider_unavailable")
    assert balance(organization) == 0
    baray.up()
    assert notify(baray.webhook_body(topup["id"])).json()["outcome"] == "settled"
    assert balance(organization) == 400_000_000
    listed = client_api.get(TOPUPS).json()["results"]
    assert [t["status"] for t in listed] == ["succeeded", "failed"]


def test_baray_refusing_an_intent_is_502(client_api, baray, rates, settings):
    settings.TOPUP_MIN_USD = 1  # below Baray's own minimum of USD 0.03
    response = client_api.post(TOPUPS, {"amount": "0.01", "currency": "USD"}, format="json")
    assert (response.status_code, response.json()["code"]) == (502, "payment_provider_refused")
    assert BarayExchange.objects.get().http_status == 400


def test_the_list_pages_filters_and_does_not_grow_in_queries(client_api, baray, rates, django_assert_max_num_queries):
    for _ in range(3):
        create(client_api)
    baray.fail(baray.intents[0].id, notify=False)
    topups_reconcile(now=timezone.now() + timedelta(minutes=2))
    with django_assert_max_num_queries(4):
        page = client_api.get(f"{TOPUPS}?limit=2").json()
    assert len(page["results"]) == 2 and page["next"]
    assert len(client_api.get(f"{TOPUPS}?status=failed").json()["results"]) == 1


def test_errors_are_in_khmer_by_default(client_api, rates):
    response = client_api.post(TOPUPS, {"amount": "0", "currency": "USD"}, format="json", HTTP_ACCEPT_LANGUAGE="km")
    assert response.json()["message"] == "ចំនួនទឹកប្រាក់ត្រូវតែធំជាងសូន្យ។"
