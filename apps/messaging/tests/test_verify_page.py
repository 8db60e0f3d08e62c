"""The page an SMS recipient opens from the verification suffix (…/v/{code}): Khmer first, English below, plain
HTML (no JavaScript), rate-limited per address, and it says nothing about the recipient or the text. An unknown
code and a malformed one get the very same page after the same single query, so guessing learns nothing."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from apps.accounts.models import ClientOrganization
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.state import message_transition

pytestmark = pytest.mark.django_db
PHNOM_PENH = ZoneInfo("Asia/Phnom_Penh")


@pytest.fixture
def sent(organization):
    """A coded SMS a phone has sent, at 23:30 UTC on 4 December (already 5 December in Phnom Penh)."""
    ClientOrganization.objects.filter(pk=organization.pk).update(verification_codes=True)
    organization.refresh_from_db()
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Your PIN is 4321")
    )
    message_transition(message=message, to=MessageStatus.ASSIGNED, reason="test")
    when = datetime(2026, 12, 4, 23, 30, tzinfo=ZoneInfo("UTC"))
    message_transition(message=message, to=MessageStatus.SENT, reason="test", sent_at=when)
    return message


def test_a_valid_code_names_the_client_and_the_day_in_khmer_then_english(client, sent, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get(f"/v/{sent.verification_code.lower()}")
    page = response.content.decode()
    assert response.status_code == 200 and response["Content-Type"].startswith("text/html")
    assert '<html lang="km">' in page and "<script" not in page
    khmer = page.index("សារនេះត្រូវបានផ្ញើដោយ PeerPower")
    english = page.index("This message was sent by PeerPower for Acme Bank, on 5 December 2026.")
    assert khmer < english and "Acme Bank" in page[khmer:english]
    # Nothing about the recipient or the text.
    assert "345" not in page and "PIN" not in page and "4321" not in page
    assert len(response.content) < 8_000  # light enough for a slow connection: no scripts, fonts or images


def test_the_form_page_works_without_javascript(client, sent):
    form = client.get("/v/")
    assert form.status_code == 200
    page = form.content.decode()
    assert '<form method="get" action="/v/"' in page and 'name="code"' in page and "បញ្ចូលលេខកូដ" in page
    typed = client.get("/v/", {"code": f"  {sent.verification_code[:4]} {sent.verification_code[4:]} "})
    assert typed.status_code == 200 and "Acme Bank" in typed.content.decode()


@pytest.mark.parametrize("code", ["ZZZZZZZZ", "abc!<b>", "x" * 300, "ក្រុមហ៊ុន", "ABCD/EFGH", "ABCD%2FEFGH"])
def test_unknown_and_malformed_codes_get_the_same_page(client, sent, code, django_assert_num_queries):
    with django_assert_num_queries(1):
        response = client.get("/v/", {"code": code})
    assert response.status_code == 404
    with django_assert_num_queries(1):
        reference = client.get("/v/ZZZZZZZZ")
    assert response.content == reference.content
    page = response.content.decode()
    assert "រកមិនឃើញ" in page and "Not found" in page and "Acme Bank" not in page
    in_the_link = client.get(f"/v/{code}")
    assert (in_the_link.status_code, in_the_link.content) == (404, reference.content)


def test_a_code_whose_sms_never_left_reads_as_not_found(client, sent):
    Message.objects.filter(pk=sent.pk).update(status=MessageStatus.QUEUED, sent_at=None, assigned_at=None)
    assert client.get(f"/v/{sent.verification_code}").status_code == 404


@override_settings(MESSAGE_VERIFY_RATE_PER_IP="1/m")
def test_checks_are_rate_limited_per_address(client, sent):
    # Three requests within milliseconds cross at most one window boundary: at least one is refused.
    responses = [client.get(f"/v/{sent.verification_code}", REMOTE_ADDR="198.51.100.7") for _ in range(3)]
    limited = [response for response in responses if response.status_code == 429]
    assert responses[0].status_code == 200 and limited
    assert int(limited[0]["Retry-After"]) >= 1 and "ព្យាយាមម្ដងទៀត" in limited[0].content.decode()
    assert client.get(f"/v/{sent.verification_code}", REMOTE_ADDR="198.51.100.8").status_code == 200
    assert client.get("/v/", REMOTE_ADDR="198.51.100.7").status_code == 200  # the empty form is not a check
