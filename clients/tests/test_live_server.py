"""The client libraries (clients/python, clients/js) against a live PeerPower: Django's live server on a free port,
an organisation with API keys, the local Baray fake for top-ups, and a real webhook request signed by the server.

The Python package is installed from clients/python with pip (into a temporary directory, as `pip install` would
put it in site-packages) and driven through every method; the JavaScript package's own tests (`node --test
clients/js/test/`) run against the same server with its address and keys in the environment."""

import base64
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import httpx
import pytest
import time_machine
from django.utils import timezone

from apps.accounts.services import api_key_create, client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.tests.webhook_receiver import WebhookReceiver
from apps.delivery.webhooks.models import WebhookDelivery
from apps.delivery.webhooks.services import (
    webhook_delivery_send,
    webhook_endpoint_create,
    webhook_endpoint_rotate_secret,
)
from apps.delivery.webhooks.signing import SIGNATURE_HEADER
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.state import message_transition
from apps.payments.models import ExchangeRate, TopUp

pytestmark = pytest.mark.django_db(transaction=True)

CLIENTS = Path(__file__).resolve().parent.parent
QUICKSTART = CLIENTS.parent / "docs" / "quickstart.md"
KHMER = "សួស្តី! ការកម្មង់លេខ 1042 របស់អ្នករួចរាល់ហើយ។"
BARAY_WEBHOOK_PATH = "/api/billing/baray/webhook"


@pytest.fixture(scope="session")
def peerpower_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """`peerpower_client`, installed with pip from a copy of clients/python (no build output left in the tree)."""
    source = tmp_path_factory.mktemp("source") / "python"
    shutil.copytree(CLIENTS / "python", source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("site-packages")
    offline = ["--no-deps", "--no-build-isolation", "--no-index"]  # the package alone, built with this setuptools
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", *offline, "--target", str(target), str(source)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    assert (target / "peerpower_client" / "py.typed").is_file()  # the package says it is typed
    sys.path.insert(0, str(target))
    try:
        yield importlib.import_module("peerpower_client")
    finally:
        sys.path.remove(str(target))


@pytest.fixture
def organization(db):
    return client_create(user=UserFactory(), name="Angkor Coffee")


@pytest.fixture
def api_key(organization) -> str:
    return api_key_create(organization=organization, actor=None, name="server")[1]


@pytest.fixture
def slow_api_key(organization) -> str:
    """A key allowed one send request a second, to meet the rate limit for real."""
    return api_key_create(organization=organization, actor=None, name="slow", rate_per_second=1)[1]


@pytest.fixture
def baray(baray_server, live_server, settings, db):
    """The Baray fake, with the server pointed at it and its webhook at the live server; 1 USD = 40 PPT."""
    baray_server.reset()
    baray_server.webhook_url = live_server.url + BARAY_WEBHOOK_PATH
    settings.BARAY_API_URL = baray_server.endpoint
    settings.BARAY_CHECKOUT_URL = baray_server.checkout_url
    ExchangeRate.objects.create(currency="USD", ppt_per_unit=Decimal("40"))
    return baray_server


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def client(peerpower_client, live_server, api_key):
    with peerpower_client.PeerPower(api_key, base_url=live_server.url, language="en") as client:
        yield client


def signed_webhook(organization, receiver: WebhookReceiver, *, rotate: bool = False) -> tuple[bytes, str, list[str]]:
    """A real webhook request PeerPower sent to the receiver (a message failing): its body, signature header and
    the secrets it is signed with (both while a rotated secret is in its grace period)."""
    endpoint = webhook_endpoint_create(organization=organization, actor=None, url=receiver.url())
    secrets = [endpoint.secret]
    if rotate:
        endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=None)
        secrets.insert(0, endpoint.secret)
    message = Message.objects.filter(organization=organization, status=MessageStatus.QUEUED).first()
    assert message_transition(message=message, to=MessageStatus.FAILED, reason="max_attempts")
    [delivery] = WebhookDelivery.objects.filter(event__message=message, endpoint=endpoint)
    assert webhook_delivery_send(delivery_id=delivery.pk) == "succeeded"
    request = receiver.requests[-1]
    return request.body, request.headers[SIGNATURE_HEADER.lower()], secrets


def test_send_follow_list_and_cancel(client, peerpower_client):
    sent = client.send("012 345 678", KHMER, reference="order-1042", priority="high")
    assert isinstance(sent, peerpower_client.Message)
    assert (sent.status, sent.to, sent.encoding, sent.segments, sent.priority) == (
        "queued",
        "+85512345678",
        "ucs2",
        1,
        "high",
    )
    assert sent.created_at is not None and sent.created_at.tzinfo is not None

    bulk = client.send_bulk(
        [{"to": "010 234 567", "body": "Your order #1043 is ready.", "reference": "order-1043"}, {"to": "+85599"}]
    )
    assert (bulk.accepted, bulk.refused) == (1, 1)
    assert bulk.results[0].ok and bulk.results[0].message.reference == "order-1043"
    assert not bulk.results[1].ok and bulk.results[1].error.code == "validation_error"

    assert client.get(sent.id) == sent
    assert [message.id for message in client.list(reference="order-1042").results] == [sent.id]
    first_page = client.list(limit=1)
    assert len(first_page.results) == 1 and first_page.next_cursor
    assert [message.reference for message in client.iter_messages(limit=1)] == ["order-1043", "order-1042"]

    cancelled = client.cancel(sent.id)
    assert (cancelled.status, cancelled.status_reason) == ("cancelled", "cancelled_by_client")
    with pytest.raises(peerpower_client.ConflictError) as refused:
        client.cancel(sent.id)
    assert (refused.value.code, refused.value.details["status"]) == ("message_not_cancellable", "cancelled")


def test_errors_carry_the_stable_code_and_details(client, peerpower_client, live_server):
    with pytest.raises(peerpower_client.BadRequestError) as invalid:
        client.send("012", "Hello")
    assert (invalid.value.status, invalid.value.code) == (400, "phone_invalid")
    assert invalid.value.message and invalid.value.request_id

    with pytest.raises(peerpower_client.NotFoundError) as missing:
        client.get(999_999)
    assert missing.value.code == "not_found"

    with pytest.raises(peerpower_client.AuthenticationError) as unauthenticated:
        peerpower_client.PeerPower("pp_live_not-a-key", base_url=live_server.url).balance()
    assert unauthenticated.value.code == "api_key_invalid"
    # Any code, known to this client or not, is an ApiError with it.
    assert isinstance(unauthenticated.value, peerpower_client.ApiError)


def test_an_idempotent_replay_gets_the_first_answer(client, peerpower_client, organization):
    first = client.send("012 345 678", "Your order #7 is ready.", idempotency_key="order-7-ready")
    again = client.send("012 345 678", "Your order #7 is ready.", idempotency_key="order-7-ready")
    assert again == first
    with pytest.raises(peerpower_client.ConflictError) as reused:
        client.send("012 345 678", "Another text", idempotency_key="order-7-ready")
    assert reused.value.code == "idempotency_key_reused"
    # Without a key of the caller's, each call is a new message (a fresh key per call).
    client.send("012 345 678", "Your order #8 is ready.")
    client.send("012 345 678", "Your order #8 is ready.")
    assert Message.objects.filter(organization=organization).count() == 3


def test_a_rate_limited_send_is_retried_after_retry_after_with_the_same_key(
    peerpower_client, live_server, slow_api_key, organization
):
    keys_sent: list[str] = []
    waits: list[float] = []

    def record(request: httpx.Request) -> None:
        keys_sent.append(request.headers.get("Idempotency-Key", ""))

    # The clock stands still (both sends fall in one window of the key's 1 request a second) until the client
    # waits: its sleep moves the server's clock on by what it was told to wait.
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False) as clock:

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            clock.shift(seconds)

        with (
            httpx.Client(event_hooks={"request": [record]}) as http,
            peerpower_client.PeerPower(slow_api_key, base_url=live_server.url, sleep=sleep, http_client=http) as client,
        ):
            client.send("012 345 678", "first")
            second = client.send("012 345 678", "second")
            assert second.status == "queued"
            no_retries = peerpower_client.PeerPower(
                slow_api_key, base_url=live_server.url, max_retries=0, http_client=http
            )
            with pytest.raises(peerpower_client.RateLimitError) as limited:
                no_retries.send("012 345 678", "third")

    assert len(waits) == 1 and 1 <= waits[0] < 1.2  # Retry-After: 1, and a little jitter
    assert (limited.value.code, limited.value.retry_after) == ("rate_limited", 1)
    first_key, second_key, second_retry, third_key = keys_sent
    assert second_key == second_retry and len({first_key, second_key, third_key}) == 3
    assert Message.objects.filter(organization=organization).count() == 2


def test_balance_and_a_top_up_paid_through_baray(client, peerpower_client, baray):
    assert client.balance().available.amount == 0
    topup = client.top_up("10.50", "USD")
    assert (topup.status, topup.amount.decimal, topup.ppt.amount) == ("pending", "10.50", 420_000_000)
    assert topup.checkout_url
    [intent] = [intent for intent in baray.intents if intent.order_id == topup.id]

    assert baray.pay(intent.id) == 200  # the payer pays; Baray notifies the server, which confirms with Baray

    paid = client.get_top_up(topup.id)
    assert paid.status == "succeeded" and paid.settled_at is not None
    wallet = client.balance()
    assert (wallet.ledger, wallet.available.amount, wallet.available.value) == ("PPT", 420_000_000, Decimal("420"))
    with pytest.raises(peerpower_client.BadRequestError) as refused:
        client.top_up("-1", "USD")
    assert refused.value.code.startswith("amount_")


def test_a_503_is_retried_with_backoff(peerpower_client, live_server, api_key, baray, organization):
    waits: list[float] = []
    # No Retry-After here: the waits are the backoff's (full jitter up to 0.5 s, then 1 s), not waited for real.
    with peerpower_client.PeerPower(api_key, base_url=live_server.url, sleep=waits.append, max_retries=2) as client:
        baray.fail_next(1)  # Baray answers 503 once: the server answers 503 payment_provider_unavailable
        topup = client.top_up("5", "USD")
        assert topup.status == "pending" and len(waits) == 1 and 0 <= waits[0] <= 0.5
        # The refused attempt's top-up was kept as failed (nothing anyone could pay), the retry made a new one.
        assert sorted(TopUp.objects.filter(organization=organization).values_list("status", flat=True)) == [
            "failed",
            "pending",
        ]
        baray.down()
        with pytest.raises(peerpower_client.ServerError) as unavailable:
            client.top_up("5", "USD")
        baray.up()
    assert (unavailable.value.status, unavailable.value.code) == (503, "payment_provider_unavailable")
    assert len(waits) == 3 and waits[2] <= 1.0


def test_webhook_signatures_from_the_real_signer(client, peerpower_client, organization, receiver):
    client.send("012 345 678", "Your code is 1234")
    body, header, [secret] = signed_webhook(organization, receiver)
    timestamp = int(header.split(",")[0].removeprefix("t="))

    event = peerpower_client.construct_event(body, header, secret)
    assert (event.type, event.message.status) == ("message.failed", "failed")
    assert peerpower_client.verify_signature(body, header, secret)
    assert not peerpower_client.verify_signature(body, header, "whsec_not_the_secret")
    assert not peerpower_client.verify_signature(body.replace(b'"failed"', b'"delivered"'), header, secret)
    assert not peerpower_client.verify_signature(body, "", secret)
    # The replay window: five minutes either way.
    assert peerpower_client.verify_signature(body, header, secret, now=timestamp + 299)
    assert not peerpower_client.verify_signature(body, header, secret, now=timestamp + 301)
    with pytest.raises(peerpower_client.SignatureVerificationError):
        peerpower_client.construct_event(body, header, secret, now=timestamp + 301)


def test_webhook_signature_during_a_rotation(client, peerpower_client, organization, receiver):
    client.send("012 345 678", "Your code is 1234")
    body, header, secrets = signed_webhook(organization, receiver, rotate=True)
    assert header.count("v1=") == 2
    assert all(peerpower_client.verify_signature(body, header, secret) for secret in secrets)


def _node() -> str:
    """Node.js for the JavaScript client (package.json: 18 or later). Skipped without it, except in CI (`CI=true`),
    where `.ci/run` installs it and its absence fails."""
    node = shutil.which("node")
    if node is None:
        reason = "node is not installed: the JavaScript client needs Node.js 18 or later"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the JavaScript client's tests: {reason}")
        pytest.skip(reason)
    return node


def test_the_javascript_client(live_server, api_key, slow_api_key, organization, receiver, baray):
    """clients/js's tests (node --test) against this server: its address, keys and a real signed webhook."""
    node = _node()
    httpx.post(
        f"{live_server.url}/api/messages/send",
        json={"to": "012 345 678", "body": "Your code is 1234"},
        headers={"Authorization": f"Bearer {api_key}"},
    ).raise_for_status()
    body, header, [secret] = signed_webhook(organization, receiver)
    environment = {
        **os.environ,
        "PEERPOWER_URL": live_server.url,
        "PEERPOWER_API_KEY": api_key,
        "PEERPOWER_SLOW_API_KEY": slow_api_key,
        "PEERPOWER_WEBHOOK": json.dumps({"body": base64.b64encode(body).decode(), "header": header, "secret": secret}),
    }
    result = subprocess.run(
        [node, "--test", "test/"],
        cwd=CLIENTS / "js",
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


def quickstart_snippet(language: str, package: str) -> str:
    """The quickstart's code block in `language` that uses the client library `package`."""
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", QUICKSTART.read_text(), re.MULTILINE | re.DOTALL)
    [code] = [code for found, code in blocks if found == language and package in code]
    return code


def test_the_quickstart_python_snippet(peerpower_client, live_server, api_key, monkeypatch, capsys):
    monkeypatch.setenv("PEERPOWER_URL", live_server.url)
    monkeypatch.setenv("PEERPOWER_API_KEY", api_key)
    exec(quickstart_snippet("python", "peerpower_client"), {})  # noqa: S102 - the guide's code, run as a reader would
    message_id, status, segments = capsys.readouterr().out.split()
    assert (status, segments) == ("queued", "1")
    assert Message.objects.get(pk=int(message_id)).reference == "order-1042"


def test_the_quickstart_javascript_snippet(live_server, api_key, tmp_path):
    node = _node()
    # As `npm install ./clients/js` would leave it: the package under node_modules.
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "node_modules" / "peerpower-client").symlink_to(CLIENTS / "js")
    (tmp_path / "send.mjs").write_text(quickstart_snippet("js", "peerpower-client"))
    environment = {**os.environ, "PEERPOWER_URL": live_server.url, "PEERPOWER_API_KEY": api_key}
    result = subprocess.run(
        [node, "send.mjs"], cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    message_id, status, segments = result.stdout.split()
    assert (status, segments) == ("queued", "1")
    assert Message.objects.get(pk=int(message_id)).reference == "order-1042"
