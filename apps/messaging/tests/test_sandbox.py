"""The send path's vetting rules: a sandboxed organisation reaches only its members' own numbers, a few a day; an
approved one is bound by its staff plan (per-key rates capped by it, a daily total across keys)."""

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey
from apps.accounts.services import api_key_create, client_create, client_plan_assign, client_plan_ensure
from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Message

pytestmark = pytest.mark.django_db

MEMBER_PHONE = "+85512777001"


def keyed(organization, **limits):
    _key, secret = api_key_create(organization=organization, actor=None, name="server", **limits)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def send(client, to=MEMBER_PHONE):
    return client.post("/api/messages/send", {"to": to, "body": "Your code is 482913"}, format="json")


@pytest.fixture
def sandboxed(settings):
    settings.CLIENT_VETTING_REQUIRED = True
    settings.CLIENT_SANDBOX_DAILY_CAP = 2
    return client_create(user=UserFactory(phone=MEMBER_PHONE), name="New Co")


def test_a_sandboxed_client_reaches_its_members_own_number(sandboxed):
    assert sandboxed.is_sandboxed
    response = send(keyed(sandboxed))
    assert response.status_code == 202, response.json()


def test_a_sandboxed_client_cannot_reach_anyone_else(sandboxed):
    response = send(keyed(sandboxed), to="012 345 678")
    assert (response.status_code, response.json()["code"]) == (403, "sandbox_recipient_not_verified")
    assert not Message.objects.exists()


def test_in_a_bulk_request_each_unverified_recipient_is_refused_on_its_own(sandboxed):
    response = keyed(sandboxed).post(
        "/api/messages/bulk",
        {"messages": [{"to": MEMBER_PHONE, "body": "hi"}, {"to": "012 345 678", "body": "hi"}]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert results[0]["message"]["status"] == "queued", results
    assert results[1]["error"]["code"] == "sandbox_recipient_not_verified"


def test_the_sandbox_daily_cap_refuses_with_its_code_and_gives_the_key_quota_back(sandboxed):
    client = keyed(sandboxed, rate_per_day=3)
    assert [send(client).status_code for _ in range(2)] == [202, 202]
    refused = send(client)
    assert (refused.status_code, refused.json()["code"]) == (429, "sandbox_daily_cap_reached")
    assert int(refused["Retry-After"]) > 0
    # The key's own quota (3) was given back: after approval the third message of the day goes through.
    sandboxed.approved_at = timezone.now()
    sandboxed.save(update_fields=["approved_at"])
    assert send(client).status_code == 202
    assert send(client).json()["code"] == "daily_quota_exceeded"


def test_an_approved_client_sends_to_anyone_past_the_sandbox_cap(sandboxed):
    sandboxed.approved_at = timezone.now()
    sandboxed.save(update_fields=["approved_at"])
    client = keyed(sandboxed)
    assert [send(client, to="012 345 678").status_code for _ in range(3)] == [202, 202, 202]


def test_the_plan_bounds_the_organisations_daily_total_across_keys(organization):
    plan = client_plan_ensure(
        name="Small", key_rate_per_second=10, key_rate_per_day=100, organization_rate_per_day=3, max_api_keys=5
    )
    client_plan_assign(organization=organization, plan=plan, actor=None)
    first, second = keyed(organization), keyed(organization)
    assert [send(first).status_code, send(second).status_code, send(first).status_code] == [202, 202, 202]
    refused = send(second)
    assert (refused.status_code, refused.json()["code"]) == (429, "organization_daily_quota_exceeded")


def test_a_lowered_plan_caps_keys_made_with_higher_rates(organization):
    client = keyed(organization, rate_per_second=50)
    plan = client_plan_ensure(
        name="Slow", key_rate_per_second=1, key_rate_per_day=100, organization_rate_per_day=100, max_api_keys=5
    )
    client_plan_assign(organization=organization, plan=plan, actor=None)
    assert ApiKey.objects.get().rate_per_second == 50
    with time_machine.travel(timezone.now().replace(microsecond=0), tick=False):
        codes = [send(client).json().get("code") for _ in range(2)]
    assert codes == [None, "rate_limited"]
