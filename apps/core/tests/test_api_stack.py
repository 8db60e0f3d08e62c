"""API requests with header credentials and no cookie are served without the cookie and admin middleware
(apps.core.api_stack), with the same answers, byte for byte and header for header, as through the full list; any
other request still goes through the full list."""

import pytest
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.services import session_start
from apps.accounts.tests.factories import UserFactory
from apps.core.api_stack import ApiStackMiddleware
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

ROUTER = f"{ApiStackMiddleware.__module__}.{ApiStackMiddleware.__name__}"
SEND = "/api/messages/send"
# One request id for both requests of a pair: otherwise each response carries its own.
SAME_ID = {"HTTP_X_REQUEST_ID": "compare-1"}


def clients(settings, **credentials) -> tuple[APIClient, APIClient]:
    """A client served as configured (the router first) and one served by the full list without it."""
    assert settings.MIDDLEWARE[0] == ROUTER
    routed, full = APIClient(), APIClient()
    with override_settings(MIDDLEWARE=[path for path in settings.MIDDLEWARE if path != ROUTER]):
        full.handler.load_middleware()
    routed.handler.load_middleware()
    for client in (routed, full):
        client.credentials(**credentials)
    return routed, full


def took_the_api_chain(response) -> bool:
    """The session middleware is the first the API chain leaves out: its request has no `session`."""
    return not hasattr(response.wsgi_request, "session")


def answer(response) -> tuple[int, list[tuple[str, str]], bytes]:
    return response.status_code, sorted(response.items()), response.content


def same_answer(routed_response, full_response) -> None:
    assert took_the_api_chain(routed_response)
    assert not took_the_api_chain(full_response)
    assert answer(routed_response) == answer(full_response)


@pytest.fixture
def production_headers(settings):
    """The security headers production sends (peerpower/settings/production.py), so their absence would show."""
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SECURE_CONTENT_TYPE_NOSNIFF = True
    settings.X_FRAME_OPTIONS = "DENY"


def test_a_send_and_its_replay_are_answered_alike(settings, api_key, production_headers):
    routed, full = clients(settings, HTTP_AUTHORIZATION=f"Bearer {api_key.secret}")
    body = {"to": "012 345 678", "body": "Your code is 123456"}
    first = routed.post(SEND, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1", secure=True, **SAME_ID)
    assert first.status_code == 202 and took_the_api_chain(first)
    assert first["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    assert first["X-Frame-Options"] == "DENY" and first["X-Content-Type-Options"] == "nosniff"
    replays = [
        client.post(SEND, body, format="json", HTTP_IDEMPOTENCY_KEY="order-1", secure=True, **SAME_ID)
        for client in (routed, full)
    ]
    same_answer(*replays)
    assert replays[0].content == first.content


def test_a_refused_key_gets_the_same_401(settings, api_key):
    routed, full = clients(settings, HTTP_AUTHORIZATION="Bearer pp_live_not-a-key")
    responses = [
        client.post(SEND, {"to": "012 345 678", "body": "hi"}, format="json", **SAME_ID) for client in (routed, full)
    ]
    same_answer(*responses)
    assert responses[0].status_code == 401 and "WWW-Authenticate" in responses[0]


def test_a_refusal_in_khmer_is_the_same(settings, api_key):
    routed, full = clients(settings, HTTP_X_API_KEY=api_key.secret)
    responses = [
        client.post(SEND, {"to": "hello", "body": ""}, format="json", HTTP_ACCEPT_LANGUAGE="km", **SAME_ID)
        for client in (routed, full)
    ]
    same_answer(*responses)
    english = routed.post(SEND, {"to": "hello", "body": ""}, format="json", HTTP_ACCEPT_LANGUAGE="en", **SAME_ID)
    assert responses[0].status_code == english.status_code == 400
    assert responses[0].json()["message"] != english.json()["message"]
    assert any("\u1780" <= character <= "\u17ff" for character in responses[0].json()["message"])
    assert responses[0]["Content-Language"] == "km"


def test_a_phone_report_is_answered_alike(settings, organization):
    provider_with_sim(Carrier.CELLCARD)
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Hi"))
    dispatch(message)
    job = Job.objects.select_related("provider__user").get(message=message)
    tokens = session_start(user=job.provider.user, device_name="phone")
    routed, full = clients(settings, HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    assert routed.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    report = {"status": "sent", "occurred_at": timezone.now().isoformat()}
    first = routed.post(f"/api/jobs/{job.pk}/report", report, format="json", **SAME_ID)
    assert first.status_code == 200 and took_the_api_chain(first)
    # The same report again (a phone's retry) through each: answered as a repeat, with the same body.
    same_answer(
        *(client.post(f"/api/jobs/{job.pk}/report", report, format="json", **SAME_ID) for client in (routed, full))
    )


def test_an_unknown_api_path_is_the_same_404(settings, api_key):
    routed, full = clients(settings, HTTP_X_API_KEY=api_key.secret)
    same_answer(*(client.post("/api/no-such-thing", {}, format="json", **SAME_ID) for client in (routed, full)))


def test_a_request_with_a_cookie_goes_through_the_full_list(settings, api_key):
    routed, _ = clients(settings, HTTP_X_API_KEY=api_key.secret)
    routed.cookies["sessionid"] = "anything"
    response = routed.post(SEND, {"to": "012 345 678", "body": "hi"}, format="json")
    assert response.status_code == 202 and not took_the_api_chain(response)


def test_a_console_session_goes_through_the_full_list(settings):
    console = APIClient()
    console.force_login(UserFactory(is_staff=True))  # a session cookie, as the signed-in admin's browser has
    response = console.get("/api/staff/stats/dashboard")
    assert response.status_code == 200 and not took_the_api_chain(response)


def test_the_admin_goes_through_the_full_list(settings):
    response = APIClient().get(f"/{settings.ADMIN_URL}", HTTP_AUTHORIZATION="Bearer anything")
    assert not took_the_api_chain(response)


def test_an_api_request_without_credentials_goes_through_the_full_list(settings):
    response = APIClient().get("/api/me")
    assert response.status_code == 401 and not took_the_api_chain(response)


@pytest.mark.parametrize("language", [None, "en", "en-US,en;q=0.9", "km-KH", "fr"])
def test_the_api_chain_answers_in_the_same_language_with_the_same_headers(settings, api_key, language):
    """The API chain's LocaleMiddleware is a cheaper twin (apps.core.api_locale): the same language chosen from
    Accept-Language (English, Khmer, else the default), the same Content-Language and Vary."""
    routed, full = clients(settings, HTTP_X_API_KEY=api_key.secret)
    header = {"HTTP_ACCEPT_LANGUAGE": language} if language else {}
    responses = [
        client.post(SEND, {"to": "hello", "body": ""}, format="json", **header, **SAME_ID) for client in (routed, full)
    ]
    same_answer(*responses)
    assert responses[0]["Content-Language"] == ("en" if language and language.startswith("en") else "km")
    assert "Accept-Language" in responses[0]["Vary"]
    chain = [type(m).__name__ for m in ApiStackMiddleware(lambda request: None).api_chain.middleware]
    assert "ApiLocaleMiddleware" in chain and "LocaleMiddleware" not in chain
