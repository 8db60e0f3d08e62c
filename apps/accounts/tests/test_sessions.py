"""JWT sessions: refresh rotation, reuse detection (with a grace for a retried refresh), logout, listing and revoking
devices."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import DeviceSession
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.helpers import sign_in
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db(transaction=True)


def refresh(client, token):
    return client.post("/api/auth/token/refresh", {"refresh": token}, format="json")


def as_bearer(access):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


class Clock:
    """The time the services read (`timezone.now`), moved forward by the test instead of waited for."""

    def __init__(self, monkeypatch):
        self.now = timezone.now()
        monkeypatch.setattr(timezone, "now", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock(monkeypatch, settings):
    settings.JWT_REFRESH_REPLAY_GRACE_SECONDS = 30
    return Clock(monkeypatch)


def test_refresh_rotates_and_the_old_token_then_revokes_the_session(api_client, otp_outbox, clock):
    login = sign_in(api_client, otp_outbox)
    rotated = refresh(api_client, login["refresh"])
    assert rotated.status_code == 200
    new = rotated.json()
    assert new["refresh"] != login["refresh"]
    assert as_bearer(new["access"]).get("/api/me").status_code == 200

    # The first refresh token comes back after the grace for a lost response: someone kept a copy. The device is
    # signed out.
    clock.advance(31)
    reused = refresh(api_client, login["refresh"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "session_revoked"
    assert refresh(api_client, new["refresh"]).json()["code"] == "session_revoked"
    assert as_bearer(new["access"]).get("/api/me").json()["code"] == "session_revoked"
    assert AuditLog.objects.filter(action="session.revoked", after__reason="refresh_token_reused").exists()


def test_a_refresh_retried_after_a_lost_response_gets_the_same_pair(api_client, otp_outbox, clock):
    login = sign_in(api_client, otp_outbox)
    first = refresh(api_client, login["refresh"]).json()  # the response never reaches the phone
    clock.advance(29)
    retried = refresh(api_client, login["refresh"])
    assert retried.status_code == 200, retried.json()
    assert retried.json() == first
    # The phone goes on with that pair; the session was never revoked.
    assert as_bearer(first["access"]).get("/api/me").status_code == 200
    assert refresh(api_client, first["refresh"]).status_code == 200
    assert not AuditLog.objects.filter(action="session.revoked").exists()


def test_a_replay_of_an_older_token_revokes_even_within_the_grace(api_client, otp_outbox, clock):
    login = sign_in(api_client, otp_outbox)
    first = refresh(api_client, login["refresh"]).json()
    second = refresh(api_client, first["refresh"]).json()
    clock.advance(1)
    # `login` was rotated twice: not a lost response but a copy.
    assert refresh(api_client, login["refresh"]).json()["code"] == "session_revoked"
    assert refresh(api_client, second["refresh"]).json()["code"] == "session_revoked"


def test_without_a_grace_any_replay_revokes(api_client, otp_outbox, clock, settings):
    settings.JWT_REFRESH_REPLAY_GRACE_SECONDS = 0
    login = sign_in(api_client, otp_outbox)
    refresh(api_client, login["refresh"])
    assert refresh(api_client, login["refresh"]).json()["code"] == "session_revoked"


def test_logout_revokes_refresh_and_access(api_client, otp_outbox):
    login = sign_in(api_client, otp_outbox)
    assert api_client.post("/api/auth/logout", {"refresh": login["refresh"]}, format="json").status_code == 204
    assert refresh(api_client, login["refresh"]).status_code == 401
    me = as_bearer(login["access"]).get("/api/me")
    assert me.status_code == 401 and me.json()["code"] == "session_revoked"


@pytest.mark.parametrize("token", ["", "not-a-token", "a.b.c"])
def test_garbage_refresh_tokens(api_client, token):
    response = refresh(api_client, token)
    assert response.status_code in (400, 401)
    assert response.json()["code"] in ("token_not_valid", "validation_error")


def test_an_access_token_is_not_a_refresh_token(api_client, otp_outbox):
    login = sign_in(api_client, otp_outbox)
    assert refresh(api_client, login["access"]).json()["code"] == "token_not_valid"


def test_sessions_list_and_revoke_one(api_client, otp_outbox):
    first = sign_in(api_client, otp_outbox, device_name="Phone A")
    from django.core.cache import cache

    cache.clear()  # past the resend cooldown
    second = sign_in(api_client, otp_outbox, device_name="Phone B")
    client = as_bearer(second["access"])
    sessions = client.get("/api/auth/sessions").json()
    assert [(s["name"], s["current"]) for s in sessions] == [("Phone B", True), ("Phone A", False)]
    assert set(sessions[0]) == {"id", "name", "created_at", "last_used_at", "current"}

    phone_a = next(s["id"] for s in sessions if s["name"] == "Phone A")
    assert client.delete(f"/api/auth/sessions/{phone_a}").status_code == 204
    assert refresh(api_client, first["refresh"]).json()["code"] == "session_revoked"
    assert as_bearer(first["access"]).get("/api/me").status_code == 401
    assert client.get("/api/me").status_code == 200  # the other device is untouched
    assert [s["name"] for s in client.get("/api/auth/sessions").json()] == ["Phone B"]


def test_revoke_all(api_client_for):
    user = UserFactory()
    client = api_client_for(user)
    other_device = api_client_for(user)
    assert client.post("/api/auth/sessions/revoke-all").status_code == 204
    assert client.get("/api/me").status_code == 401
    assert other_device.get("/api/me").status_code == 401
    assert not DeviceSession.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_owner_other_user_and_stranger_on_sessions(api_client_for, api_client):
    owner, other = UserFactory(), UserFactory()
    owner_client = api_client_for(owner)
    session_id = DeviceSession.objects.get(user=owner).pk
    other_client = api_client_for(other)
    # Another user cannot see or revoke the owner's session: it does not exist for them.
    assert session_id not in [s["id"] for s in other_client.get("/api/auth/sessions").json()]
    assert other_client.delete(f"/api/auth/sessions/{session_id}").status_code == 404
    # A stranger (no credentials) is refused.
    assert api_client.get("/api/auth/sessions").status_code == 401
    assert api_client.delete(f"/api/auth/sessions/{session_id}").status_code == 401
    assert owner_client.get("/api/me").status_code == 200


def test_last_used_is_kept_without_a_write_per_request(api_client_for, django_assert_max_num_queries):
    client = api_client_for(UserFactory())
    client.get("/api/me")  # first use in the window records it
    with django_assert_max_num_queries(0):  # the session is cached in the process (test_auth_cache)
        client.get("/api/me")
