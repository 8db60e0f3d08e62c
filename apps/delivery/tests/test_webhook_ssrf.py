"""The SSRF guard: with private addresses disallowed (production), webhook URLs on private, loopback, link-local,
reserved or multicast addresses are refused at registration (400, stable code) and again when sending, where the
connection itself is checked after DNS resolution."""

import ipaddress
import socket

import pytest

from apps.core.addresses import AddressRefused, WebhookUrlRefused, webhook_url_check
from apps.delivery.webhooks.models import WebhookAttempt, WebhookDelivery
from apps.delivery.webhooks.services import webhook_delivery_send, webhook_endpoint_create
from apps.delivery.webhooks.transport import guarded_session
from apps.messaging.choices import MessageStatus
from apps.messaging.state import message_transition

PUBLIC = "https://93.184.215.14/hook"  # a public address, written as one: no DNS needed


@pytest.fixture
def guarded(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False


def code_of(url: str, **kwargs) -> str:
    with pytest.raises(WebhookUrlRefused) as refused:
        webhook_url_check(url, **kwargs)
    return refused.value.code


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/",
        "http://10.1.2.3/hook",
        "http://172.16.0.1/",
        "http://192.168.1.20/",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",  # carrier-grade NAT
        "http://0.0.0.0:8000/",
        "http://224.0.0.1/",  # multicast
        "http://240.0.0.1/",  # reserved
        "http://[::1]:8000/hook",
        "http://[::]/",
        "http://[fe80::1]/",
        "http://[fc00::1]/",
        "http://[ff02::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped IPv6
        "http://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, mapped
        "http://[2002:a00:1::]/",  # 6to4 of 10.0.0.1
        "http://localhost:8000/hook",
        "http://LocalHost./",
        "http://api.localhost/",
    ],
)
def test_private_and_local_addresses_are_refused(guarded, url):
    assert code_of(url) == "webhook_url_private_address"
    assert code_of(url, resolve=False) == "webhook_url_private_address"  # literal: no DNS needed to refuse


def test_a_host_name_that_resolves_to_loopback_is_refused(guarded):
    # The machine's own name usually resolves to a loopback or private address through /etc/hosts.
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        pytest.skip("this machine's name does not resolve")
    if all(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to public addresses {addresses}")
    assert code_of(f"http://{name}:8000/hook") == "webhook_url_private_address"
    webhook_url_check(f"http://{name}:8000/hook", resolve=False)  # the name alone says nothing


def test_public_addresses_pass_and_the_setting_lets_tests_use_loopback(guarded, settings):
    assert webhook_url_check(PUBLIC) == PUBLIC
    assert webhook_url_check("https://[2606:4700:4700::1111]/hook")
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    assert webhook_url_check("http://127.0.0.1:9/hook")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("ftp://93.184.215.14/", "webhook_url_invalid"),
        ("javascript:alert(1)", "webhook_url_invalid"),
        ("http:///nohost", "webhook_url_invalid"),
        ("http://93.184.215.14:99999/", "webhook_url_invalid"),
        ("http://93.184.215.14/", "webhook_url_https_required"),
        ("https://no-such-host.invalid/hook", "webhook_url_unresolvable"),
    ],
)
def test_malformed_plain_http_and_unresolvable_urls_are_refused(guarded, settings, url, code):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    assert code_of(url) == code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://127.0.0.1:8000/hook", "webhook_url_private_address"),
        ("http://10.0.0.5/hook", "webhook_url_private_address"),
        ("http://169.254.169.254/latest", "webhook_url_private_address"),
        ("http://[::1]/hook", "webhook_url_private_address"),
        ("http://localhost/hook", "webhook_url_private_address"),
        ("ftp://93.184.215.14/hook", "webhook_url_invalid"),
    ],
)
def test_registration_answers_400_with_a_stable_code(guarded, client_api, url, code):
    response = client_api.post("/api/webhooks", {"url": url}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)
    assert response.json()["details"]["url"] == url


@pytest.mark.django_db
def test_registration_requires_https_when_set(guarded, settings, client_api):
    settings.WEBHOOK_REQUIRE_HTTPS = True
    response = client_api.post("/api/webhooks", {"url": "http://93.184.215.14/hook"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "webhook_url_https_required")
    assert client_api.post("/api/webhooks", {"url": PUBLIC}, format="json").status_code == 201


@pytest.mark.django_db
def test_a_message_callback_url_is_checked_when_the_message_is_sent(guarded, client_api):
    response = client_api.post(
        "/api/messages/send",
        {"to": "012 345 678", "body": "hi", "callback_url": "http://169.254.169.254/latest"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (400, "webhook_url_private_address")
    ok = {"to": "012 345 678", "body": "hi", "callback_url": "https://example.com/cb"}  # its DNS: at send time
    assert client_api.post("/api/messages/send", ok, format="json").status_code == 202


@pytest.mark.django_db
def test_send_time_check_refuses_what_was_allowed_at_registration(organization, receiver, message_for, settings):
    endpoint = webhook_endpoint_create(organization=organization, actor=None, url=f"http://localhost:{receiver.port}/h")
    message = message_for(callback_url=receiver.url("/cb"))
    assert message_transition(message=message, to=MessageStatus.FAILED)
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False  # e.g. DNS now points the host somewhere private
    for delivery in WebhookDelivery.objects.all():
        assert webhook_delivery_send(delivery_id=delivery.pk) == "retrying"
    attempts = WebhookAttempt.objects.order_by("id")
    assert [a.outcome for a in attempts] == ["address_refused", "address_refused"]
    assert all("private" in a.error or "may not reach" in a.error for a in attempts)
    assert receiver.requests == []
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 1


def test_the_connection_itself_checks_the_resolved_address(guarded, receiver):
    # The guarded session resolves "localhost" through the system resolver when it connects, and refuses the
    # loopback answer, whatever was checked before.
    with guarded_session() as session, pytest.raises(AddressRefused, match=r"127\.0\.0\.1"):
        session.post(f"http://localhost:{receiver.port}/hook", data=b"{}", timeout=2)
    assert receiver.requests == []


def test_the_guarded_session_still_connects_where_allowed(receiver):
    with guarded_session() as session:
        response = session.post(f"http://localhost:{receiver.port}/hook", data=b"{}", timeout=2)
    assert response.status_code == 200 and len(receiver.requests) == 1
