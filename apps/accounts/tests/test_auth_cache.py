"""Sessions and API keys cached in each process: no query for a valid credential, and revocation, deactivation or a
change by staff takes effect on the very next request — also in a process that still holds the old entry."""

import base64
import json

import pytest
import time_machine
from rest_framework.request import Request
from rest_framework.test import APIClient, APIRequestFactory
from rest_framework_simplejwt import backends

from apps.accounts import auth_cache
from apps.accounts.authentication import ApiKeyAuthentication
from apps.accounts.models import ApiKey, ClientOrganization
from apps.accounts.services import api_key_create, api_key_revoke, client_create, session_revoke, session_start
from apps.accounts.tests.factories import UserFactory

pytestmark = [pytest.mark.django_db, pytest.mark.urls("apps.accounts.tests.api_key_urls")]


@pytest.fixture(autouse=True)
def _empty_process_cache():
    auth_cache.local_caches_clear()  # entries other tests left behind would blur the counts below


def signed_in(user):
    tokens = session_start(user=user, device_name="phone")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens.access}")
    return client, tokens


def warm(client, path="/api/me"):
    """A first request loads the credential into this process's cache."""
    assert client.get(path).status_code == 200


def test_a_valid_session_costs_no_query(django_assert_num_queries):
    client, _ = signed_in(UserFactory())
    warm(client)
    with django_assert_num_queries(0):
        assert client.get("/api/me").status_code == 200


def test_logout_refuses_the_access_token_on_the_next_request():
    client, tokens = signed_in(UserFactory())
    warm(client)
    assert APIClient().post("/api/auth/logout", {"refresh": tokens.refresh}, format="json").status_code == 204
    refused = client.get("/api/me")
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"


def test_a_revocation_elsewhere_reaches_a_process_that_still_holds_the_session():
    user = UserFactory()
    client, tokens = signed_in(user)
    warm(client)
    # Another process revokes: it writes the row and the shared version, never this process's memory.
    session_revoke(session=tokens.session, actor=user)
    assert len(auth_cache._sessions) == 1  # the stale entry is still here; the shared version refuses it
    assert client.get("/api/me").json()["code"] == "session_revoked"


def test_a_process_that_never_saw_the_session_loads_it_and_sees_the_revocation():
    user = UserFactory()
    client, tokens = signed_in(user)
    warm(client)
    session_revoke(session=tokens.session, actor=user)
    auth_cache.local_caches_clear()  # a fresh process
    assert client.get("/api/me").json()["code"] == "session_revoked"


def test_a_reused_refresh_token_refuses_the_access_token_on_the_next_request(settings):
    settings.JWT_REFRESH_REPLAY_GRACE_SECONDS = 0  # any replay is a reuse
    client, tokens = signed_in(UserFactory())
    warm(client)
    refresh = APIClient()
    assert refresh.post("/api/auth/token/refresh", {"refresh": tokens.refresh}, format="json").status_code == 200
    assert client.get("/api/me").status_code == 200  # rotation alone leaves the access token valid, as before
    reused = refresh.post("/api/auth/token/refresh", {"refresh": tokens.refresh}, format="json")
    assert reused.json()["code"] == "session_revoked"
    assert client.get("/api/me").json()["code"] == "session_revoked"


def test_deactivating_the_user_refuses_the_next_request():
    user = UserFactory()
    client, _ = signed_in(user)
    warm(client)
    user.is_active = False
    user.save()  # as staff do in the admin
    assert client.get("/api/me").json()["code"] == "session_revoked"


def test_a_profile_change_shows_on_the_next_request():
    client, _ = signed_in(UserFactory(display_name="Before"))
    warm(client)
    assert client.patch("/api/me", {"display_name": "Sokha"}, format="json").status_code == 200
    assert client.get("/api/me").json()["display_name"] == "Sokha"


def test_the_other_sessions_of_the_user_keep_working():
    user = UserFactory()
    kept, _ = signed_in(user)
    revoked, tokens = signed_in(user)
    warm(kept)
    warm(revoked)
    session_revoke(session=tokens.session, actor=user)
    assert revoked.get("/api/me").status_code == 401
    assert kept.get("/api/me").status_code == 200


def test_with_the_cache_off_every_request_reads_the_session(settings, django_assert_num_queries):
    settings.AUTH_LOCAL_CACHE_SECONDS = 0
    client, _ = signed_in(UserFactory())
    warm(client)
    with django_assert_num_queries(1):
        client.get("/api/me")


def claims_of(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@pytest.fixture
def token_decodes(monkeypatch):
    """How many times PyJWT decoded (and checked the signature of) a token."""
    calls = []
    decode = backends.jwt.decode

    def counted(*args, **kwargs):
        calls.append(args[0])
        return decode(*args, **kwargs)

    monkeypatch.setattr(backends.jwt, "decode", counted)
    return calls


def test_a_token_is_verified_once_per_process(token_decodes):
    client, _ = signed_in(UserFactory())
    warm(client)
    assert client.get("/api/me").status_code == 200
    assert client.get("/api/me").status_code == 200
    assert len(token_decodes) == 1
    auth_cache.local_caches_clear()  # another process verifies it itself
    warm(client)
    assert len(token_decodes) == 2


def test_a_revoked_session_refuses_its_held_token_on_the_next_request(token_decodes):
    user = UserFactory()
    client, tokens = signed_in(user)
    warm(client)
    warm(client)
    session_revoke(session=tokens.session, actor=user)
    refused = client.get("/api/me")
    assert refused.status_code == 401 and refused.json()["code"] == "session_revoked"
    assert len(token_decodes) == 1  # refused on the held token, without verifying it again


def test_a_held_token_is_refused_from_its_expiry_on(token_decodes):
    client, tokens = signed_in(UserFactory())
    warm(client)
    expires = claims_of(tokens.access)["exp"]
    with time_machine.travel(expires - 1, tick=False):
        assert client.get("/api/me").status_code == 200
    assert len(token_decodes) == 1  # that one was the held token
    with time_machine.travel(expires, tick=False):
        assert client.get("/api/me").status_code == 401  # as PyJWT refuses it: expired at `exp`


def test_a_token_with_an_altered_payload_is_refused_though_its_signature_is_held():
    user, other = UserFactory(), UserFactory()
    client, tokens = signed_in(user)
    warm(client)
    header, _, signature = tokens.access.split(".")
    claims = claims_of(tokens.access)
    claims["user_id"] = other.pk
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forger = APIClient()
    forger.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{forged}.{signature}")
    assert forger.get("/api/me").status_code == 401


@pytest.fixture
def owner():
    return UserFactory()


@pytest.fixture
def key_and_secret(owner):
    organization = client_create(user=owner, name="Acme Bank")
    return api_key_create(organization=organization, actor=owner, name="server")


def authenticate(secret):
    request = APIRequestFactory().get("/api/whoami", HTTP_X_API_KEY=secret)
    return ApiKeyAuthentication().authenticate(Request(request))


def test_a_valid_api_key_costs_no_query(key_and_secret, django_assert_num_queries):
    _, secret = key_and_secret
    client = APIClient(HTTP_X_API_KEY=secret)
    warm(client, "/api/whoami")
    with django_assert_num_queries(0):
        assert client.get("/api/whoami").status_code == 200


def test_a_revoked_key_is_refused_on_its_next_request(owner, key_and_secret):
    key, secret = key_and_secret
    client = APIClient(HTTP_X_API_KEY=secret)
    warm(client, "/api/whoami")
    api_key_revoke(api_key=key, actor=owner)
    assert len(auth_cache._api_keys) == 1  # still held here, as in every other process
    refused = client.get("/api/whoami")
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_revoked"


def test_new_limits_and_a_blocked_organization_apply_on_the_next_request(key_and_secret):
    key, secret = key_and_secret
    assert authenticate(secret)[1].rate_per_second is None
    changed = ApiKey.objects.get(pk=key.pk)
    changed.rate_per_second = 5
    changed.save()  # as the admin form does
    assert authenticate(secret)[1].rate_per_second == 5
    organization = ClientOrganization.objects.get(pk=key.organization_id)
    organization.is_blocked = True
    organization.save()
    client, _ = authenticate(secret)
    assert client.organization.is_blocked


def test_each_request_gets_its_own_instances(key_and_secret):
    _, secret = key_and_secret
    first, second = authenticate(secret), authenticate(secret)
    assert first[1] is not second[1] and first[0].organization is not second[0].organization


def test_a_request_changing_its_key_or_organization_changes_nothing_the_next_one_gets(key_and_secret):
    _, secret = key_and_secret
    first = authenticate(secret)[1]
    first.name = "changed"
    first.organization.name = "Changed Bank"
    first._state.fields_cache.clear()
    first.organization._state.adding = True
    second = authenticate(secret)[1]
    assert (second.name, second.organization.name) == ("server", "Acme Bank")
    assert second._state.fields_cache["organization"] is second.organization
    assert not second.organization._state.adding


def test_a_request_s_copy_is_what_copy_copy_makes(key_and_secret):
    """`_instance_copy` is `copy.copy` of a model instance without its detour through pickling's state: the same
    attributes, its own state with the same database and cache of the same related instances."""
    import copy

    key, _ = key_and_secret
    held = ApiKey.objects.select_related("organization").get(pk=key.pk)
    for instance in (held, held.organization):
        made, expected = auth_cache._instance_copy(instance), copy.copy(instance)
        assert type(made) is type(expected) and made is not instance
        plain = {name: value for name, value in expected.__dict__.items() if name not in ("_state", "_django_version")}
        assert {name: value for name, value in made.__dict__.items() if name != "_state"} == plain
        assert made._state is not instance._state
        assert made._state.fields_cache is not instance._state.fields_cache
        assert (made._state.db, made._state.adding, made._state.fields_cache) == (
            expected._state.db,
            expected._state.adding,
            expected._state.fields_cache,
        )
