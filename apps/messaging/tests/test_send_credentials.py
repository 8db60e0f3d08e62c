"""The single send takes its API key from this process's cache and verifies the key's version in the round trip that
counts the client's limits (apps.core.lean, apps.core.counters), not in one of its own. A key revoked or changed, or
an organisation changed, since this process loaded it is refused or read afresh on the very next send, whatever else
is wrong with the request, and nothing is counted or stored on the stale key's behalf."""

import pytest

from apps.accounts import auth_cache
from apps.accounts.models import ApiKey, ClientOrganization
from apps.accounts.services import api_key_revoke
from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _empty_process_cache():
    auth_cache.local_caches_clear()


def send(client, *, idempotency_key: str | None = None, **fields):
    headers = {"HTTP_IDEMPOTENCY_KEY": idempotency_key} if idempotency_key else {}
    data = {"to": "012 345 678", "body": "Your code is 4821", **fields}
    return client.post("/api/messages/send", data, format="json", **headers)


def test_a_revoked_key_is_refused_on_its_next_send(client_api, api_key):
    assert send(client_api).status_code == 202  # the key is now held by this process
    api_key_revoke(api_key=api_key, actor=UserFactory())
    assert len(auth_cache._api_keys) == 1  # still held here, as in every other process
    refused = send(client_api, to="012 345 679")
    assert (refused.status_code, refused.json()["code"]) == (401, "api_key_revoked")
    assert refused["WWW-Authenticate"] == 'Bearer realm="api"'
    assert Message.objects.count() == 1


def test_a_revoked_key_is_refused_as_revoked_whatever_else_is_wrong(client_api, api_key):
    assert send(client_api).status_code == 202
    api_key_revoke(api_key=api_key, actor=UserFactory())
    for wrong in ({"to": "not a number"}, {"body": ""}, {"priority": "urgent"}):
        refused = send(client_api, **wrong)
        assert (refused.status_code, refused.json()["code"]) == (401, "api_key_revoked"), wrong


def test_a_revoked_key_gets_no_stored_answer_for_its_idempotency_key(client_api, api_key):
    first = send(client_api, idempotency_key="order-1")
    assert first.status_code == 202
    assert send(client_api, idempotency_key="order-1").json() == first.json()  # the stored answer
    api_key_revoke(api_key=api_key, actor=UserFactory())
    refused = send(client_api, idempotency_key="order-1")
    assert (refused.status_code, refused.json()["code"]) == (401, "api_key_revoked")


def test_an_organisation_blocked_and_unblocked_is_seen_on_the_next_send(client_api, organization):
    assert send(client_api).status_code == 202
    organization = ClientOrganization.objects.get(pk=organization.pk)
    organization.is_blocked = True
    organization.save()  # as the admin does: every process reloads the organisation's keys
    blocked = send(client_api, to="012 345 679")
    assert (blocked.status_code, blocked.json()["code"]) == (403, "client_blocked")
    organization.is_blocked = False
    organization.save()
    # This process still holds the blocked organisation: refused by it, the send reads the key afresh and goes on.
    assert send(client_api, to="012 345 680").status_code == 202
    assert Message.objects.count() == 2


def test_new_key_limits_count_once_on_the_next_send(client_api, api_key):
    """The send that finds the key changed counts nothing before it reads the key afresh: with a new daily quota of
    two, the second message of the day is accepted and the third refused."""
    assert send(client_api).status_code == 202
    changed = ApiKey.objects.get(pk=api_key.pk)
    changed.rate_per_day = 2
    changed.save()  # as the admin form does
    assert send(client_api, to="012 345 679").status_code == 202
    refused = send(client_api, to="012 345 680")
    assert (refused.status_code, refused.json()["code"]) == (429, "daily_quota_exceeded")
