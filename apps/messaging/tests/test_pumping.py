"""SMS pumping defence: bursts to neighbouring numbers, listed ranges, and codes nobody uses are held for staff."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_moderate, message_submit, message_submit_bulk

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _rules(settings):
    settings.MESSAGE_PUMPING_ADJACENT = 5
    settings.MESSAGE_PUMPING_WINDOW_SECONDS = 600
    settings.MESSAGE_PUMPING_CONVERSION_SAMPLE = 10
    settings.MESSAGE_PUMPING_CONVERSION_MIN_BP = 2_000
    cache.clear()


@pytest.fixture
def other_organization(db):
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory

    return client_create(user=UserFactory(), name="Other Co")


def send(organization, to, body="Your order is ready"):
    return message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body=body))


def test_a_burst_to_sequential_numbers_is_held_after_the_allowance(organization):
    messages = [send(organization, f"+855123456{n:02d}") for n in range(8)]
    assert [m.status for m in messages] == [MessageStatus.QUEUED] * 5 + [MessageStatus.HELD] * 3
    held = Message.objects.filter(status=MessageStatus.HELD)
    assert {m.status_reason for m in held} == {"pumping_adjacent"}
    assert all(m.next_attempt_at is None for m in held)


def test_numbers_of_refused_requests_count_toward_the_burst(organization):
    """The sets are counted with the client's limits, before the message is judged: a number asked for counts even
    when its message is refused (here its body is empty), as the pattern of where a client sends."""
    from apps.messaging.errors import BodyEmpty

    for n in range(5):
        with pytest.raises(BodyEmpty):
            send(organization, f"+855123456{n:02d}", body=" ")
    assert send(organization, "+85512345699").status == MessageStatus.HELD


def test_numbers_spread_over_the_network_are_not_held(organization):
    numbers = [f"+8551{block}345{n:03d}" for n, block in enumerate("0123456789")]  # ten different blocks
    assert all(send(organization, number).status == MessageStatus.QUEUED for number in numbers)


def test_repeats_to_one_number_are_not_a_burst(organization):
    assert all(send(organization, "+85512345678").status == MessageStatus.QUEUED for _ in range(8))


def test_each_client_has_its_own_allowance(organization, other_organization):
    for n in range(5):
        send(organization, f"+855123456{n:02d}")
    assert send(other_organization, "+85512345699").status == MessageStatus.QUEUED


def test_a_bulk_request_to_a_number_range_is_held_item_by_item(organization):
    items = [MessageInput(to=f"+855123457{n:02d}", body="Your order is ready") for n in range(7)]
    results = message_submit_bulk(organization=organization, api_key=None, items=items)
    assert [r.message.status_reason for r in results].count("pumping_adjacent") == 2
    assert [r.message.status for r in results].count(MessageStatus.HELD) == 2


def test_a_listed_premium_or_unallocated_range_is_held(organization, settings):
    settings.MESSAGE_PUMPING_HELD_PREFIXES = ["+8551299"]
    assert send(organization, "+85512990001").status_reason == "pumping_range"
    assert send(organization, "+85512980001").status == MessageStatus.QUEUED


def test_staff_release_a_pumping_hold_through_moderation(organization, staff):
    for n in range(6):
        held = send(organization, f"+855123458{n:02d}")
    assert held.status == MessageStatus.HELD
    message_moderate(message=held, approve=True, actor=staff)
    held.refresh_from_db()
    assert held.status == MessageStatus.QUEUED
    assert AuditLog.objects.filter(target_id=str(held.pk)).exists()


def codes_sent(organization, count, converted, *, age=timedelta(hours=1)):
    """`count` code messages sent `age` ago, the first `converted` of them reported used through the API."""
    messages = [send(organization, f"+8551{n % 10}{n:06d}", body=f"Your code is {100000 + n}") for n in range(count)]
    Message.objects.filter(pk__in=[m.pk for m in messages]).update(created_at=timezone.now() - age)
    return messages[:converted]


def report_conversions(client_api, messages):
    for message in messages:
        response = client_api.post(f"/api/messages/{message.pk}/conversion")
        assert response.status_code == 200, response.json()


def test_low_code_conversion_holds_new_codes(organization, client_api):
    report_conversions(client_api, codes_sent(organization, 10, converted=1))  # 10 %, under 20 %
    cache.delete(f"pumping:conversion_low:{organization.pk}")
    assert send(organization, "+85516000001", body="Your code is 777777").status_reason == "pumping_low_conversion"
    # Messages that are not codes are not what conversion measures.
    assert send(organization, "+85516000002", body="Your order is ready").status == MessageStatus.QUEUED


def test_healthy_code_conversion_holds_nothing(organization, client_api):
    report_conversions(client_api, codes_sent(organization, 10, converted=3))  # 30 %
    assert send(organization, "+85516000001", body="Your code is 777777").status == MessageStatus.QUEUED


def test_a_client_that_reports_no_conversions_is_not_judged_by_them(organization):
    codes_sent(organization, 10, converted=0)
    assert send(organization, "+85516000001", body="Your code is 777777").status == MessageStatus.QUEUED


def test_conversion_reports_are_idempotent_and_private(organization, client_api, other_client_api):
    message = send(organization, "+85516000001", body="Your code is 123456")
    first = client_api.post(f"/api/messages/{message.pk}/conversion").json()
    again = client_api.post(f"/api/messages/{message.pk}/conversion").json()
    assert first == again and first["id"] == message.pk and first["converted_at"]
    assert other_client_api.post(f"/api/messages/{message.pk}/conversion").status_code == 404


def test_a_process_remembers_the_conversion_verdict_briefly_and_forgets_it_on_a_report(
    organization, client_api, settings
):
    from apps.messaging import pumping

    settings.MESSAGE_PUMPING_LOCAL_CACHE_SECONDS = 3600
    pumping._local.clear()
    try:
        codes = codes_sent(organization, 10, converted=1)  # 10 %, under 20 %, but not reported yet
        assert send(organization, "+85516000001", body="Your code is 777777").status == MessageStatus.QUEUED
        cache.set(f"pumping:reports_conversions:{organization.pk}", 1)  # as another process's report would
        # This process goes on with what it read, for MESSAGE_PUMPING_LOCAL_CACHE_SECONDS.
        assert send(organization, "+85516000002", body="Your code is 777777").status == MessageStatus.QUEUED
        report_conversions(client_api, codes[:1])  # a report in this process: judged again at once
        cache.delete(f"pumping:conversion_low:{organization.pk}")
        held = send(organization, "+85516000003", body="Your code is 777777")
        assert held.status_reason == "pumping_low_conversion"
    finally:
        pumping._local.clear()


def _held_metric(sign: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("peerpower_messages_pumping_held_total", {"sign": sign}) or 0


def test_a_pumping_hold_is_counted_once_it_is_stored(organization, settings, django_capture_on_commit_callbacks):
    settings.MESSAGE_PUMPING_HELD_PREFIXES = ["+8551299"]
    before = _held_metric("range")
    with django_capture_on_commit_callbacks(execute=True):
        assert send(organization, "+85512990001").status_reason == "pumping_range"
        assert send(organization, "+85512980001").status == MessageStatus.QUEUED
    assert _held_metric("range") == before + 1


def test_a_pumping_hold_refused_for_its_recipient_is_not_counted(
    organization, settings, django_capture_on_commit_callbacks
):
    """The hold is decided before the recipient's opt-out check, which on PostgreSQL rides in the INSERT: a message
    refused there is not stored, so it is not a held message either."""
    from apps.messaging.errors import RecipientOptedOut
    from apps.messaging.services import opt_out_add

    settings.MESSAGE_PUMPING_HELD_PREFIXES = ["+8551299"]
    opt_out_add(phone="+85512990002", source="staff")
    before = _held_metric("range")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RecipientOptedOut):
        send(organization, "+85512990002")
    assert not Message.objects.exists()
    assert _held_metric("range") == before
