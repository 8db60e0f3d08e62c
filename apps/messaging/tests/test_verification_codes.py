"""Verification codes: clients may append a code to their SMS; recipients check it at /api/verify/{code}."""

import pytest
from django.test import override_settings

from apps.accounts.models import ClientOrganization
from apps.accounts.tests.factories import UserFactory
from apps.messaging.models import Message

pytestmark = pytest.mark.django_db


def send(client, body="Your Acme balance is 12.50 USD"):
    response = client.post("/api/messages/send", {"to": "012 345 678", "body": body}, format="json")
    assert response.status_code == 202, response.json()
    return Message.objects.get(pk=response.json()["id"])


def opt_in(organization):
    ClientOrganization.objects.filter(pk=organization.pk).update(verification_codes=True)


def test_off_by_default(client_api):
    message = send(client_api)
    assert message.verification_code is None and message.body == "Your Acme balance is 12.50 USD"


def test_opted_in_client_gets_a_code_in_the_sms_and_recipients_can_check_it(client_api, organization, api_client):
    opt_in(organization)
    message = send(client_api)
    code = message.verification_code
    assert len(code) == 8 and code in message.body
    assert message.body.startswith("Your Acme balance is 12.50 USD\nVerify: ")
    check = api_client.get(f"/api/verify/{code.lower()}")
    assert check.status_code == 200
    assert check.json() == {"code": code, "sender": "Acme Bank", "sent_at": None, "status": "queued"}


def test_the_code_counts_in_the_segments(client_api, organization):
    opt_in(organization)
    message = send(client_api, body="a" * 150)  # fits one segment alone, not with the code
    assert message.segments == 2


def test_the_filter_reads_only_the_clients_words(client_api, organization):
    opt_in(organization)
    assert send(client_api).filter_reasons == []  # the appended link is ours, not a client's link


def test_unknown_code(api_client):
    response = api_client.get("/api/verify/ZZZZZZZZ")
    assert (response.status_code, response.json()["code"]) == (404, "verification_code_unknown")


@override_settings(MESSAGE_VERIFY_RATE_PER_IP="1/m")
def test_checks_are_rate_limited(api_client):
    # Three requests within milliseconds cross at most one window boundary: at least one is refused.
    responses = [api_client.get("/api/verify/ZZZZZZZZ") for _ in range(3)]
    limited = [r for r in responses if r.status_code == 429]
    assert responses[0].status_code == 404 and limited
    assert limited[0].json()["code"] == "rate_limited"


def test_owner_turns_it_on_through_the_api(api_client_for):
    owner = api_client_for(UserFactory())
    created = owner.post("/api/clients", {"name": "Bank"}, format="json").json()
    assert created["verification_codes"] is False
    patched = owner.patch(f"/api/clients/{created['id']}", {"verification_codes": True}, format="json")
    assert patched.status_code == 200 and patched.json()["verification_codes"] is True
    assert patched.json()["name"] == "Bank"
    stranger = api_client_for(UserFactory())
    assert stranger.patch(f"/api/clients/{created['id']}", {"name": "Mine"}, format="json").status_code == 404


@pytest.mark.parametrize("code", ["%C3%A9t%C3%A9", "A" * 33, "abc-def", "..%2F..%2Fetc"])
def test_a_code_that_cannot_be_one_is_not_found_without_a_lookup(api_client, code, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = api_client.get(f"/api/verify/{code}")
    assert (response.status_code, response.json()["code"]) == (404, "not_found")


def test_a_code_typed_with_spaces_is_found(client_api, organization, api_client):
    opt_in(organization)
    code = send(client_api).verification_code
    assert api_client.get(f"/api/verify/{code[:4]}%20{code[4:]}").status_code == 200
