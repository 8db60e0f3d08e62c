"""The hourly rollups follow the messages: submitted, delivered (with its latency bucket and charge) and failed are
counted once committed, nothing for a rolled-back move, and a rebuild from the messages gives the same rows."""

import io
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.backoffice.figures import percentile
from apps.backoffice.models import MessageRollup
from apps.backoffice.rollup import latency_bucket, rollup_rebuild
from apps.messaging.choices import MessageStatus
from apps.messaging.models import Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.state import message_transition

BODY = "Your Acme balance is 12.50 USD"


def _rows() -> set[tuple]:
    return set(
        MessageRollup.objects.values_list(
            "hour", "event", "carrier", "priority", "organization_id", "latency_bucket", "messages", "segments"
        )
    )


def _submit(organization, to: str = "+85512345678") -> Message:
    return message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body=BODY))


@pytest.mark.django_db
def test_messages_are_counted_per_hour_as_they_move(organization, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delivered, failed = _submit(organization), _submit(organization, "+85512345679")
    for message in (delivered, failed):
        message_transition(message=message, to=MessageStatus.ASSIGNED)
    with django_capture_on_commit_callbacks(execute=True):
        message_transition(message=delivered, to=MessageStatus.DELIVERED)
        message_transition(message=failed, to=MessageStatus.FAILED, reason="send_failed")

    network = MessageRollup.objects.filter(organization_id=0, latency_bucket=-1)
    assert {(row.event, row.carrier, row.priority, row.messages) for row in network} == {
        ("submitted", "", "", 2),
        ("delivered", "", "", 1),
        ("failed", "", "", 1),
        ("submitted", "cellcard", "normal", 2),
        ("delivered", "cellcard", "normal", 1),
        ("failed", "cellcard", "normal", 1),
    }
    client = MessageRollup.objects.filter(organization_id=organization.pk)
    assert {(row.event, row.messages, row.segments) for row in client} == {
        ("submitted", 2, 2),
        ("delivered", 1, 1),
        ("failed", 1, 1),
    }
    [latency] = MessageRollup.objects.filter(latency_bucket__gte=0)
    took = (delivered.delivered_at - delivered.created_at).total_seconds()
    assert (latency.event, latency.messages, latency.latency_bucket) == ("delivered", 1, latency_bucket(took))
    assert latency.latency_ms == int(took * 1000)

    before = _rows()
    rollup_rebuild(since=timezone.now() - timedelta(hours=2), until=timezone.now())
    assert _rows() == before


@pytest.mark.django_db
def test_a_rolled_back_move_counts_nothing(organization, django_capture_on_commit_callbacks):
    message = _submit(organization)  # outside the capture: its count is never run
    message_transition(message=message, to=MessageStatus.ASSIGNED)
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            message_transition(message=message, to=MessageStatus.DELIVERED)
            raise RuntimeError
    assert not MessageRollup.objects.exists()


def test_latency_buckets_and_percentiles():
    assert [latency_bucket(s) for s in (0.2, 1, 1.5, 59, 60, 61, 7200, 99999)] == [0, 0, 1, 10, 10, 11, 19, 20]
    # 10 messages: 5 in (0, 1] s, 5 in (5, 7] s: the median is the top of the first bucket, p90 inside the second.
    histogram = {0: 5, 4: 5}
    assert percentile(histogram, 0.5) == 1.0
    assert percentile(histogram, 0.9) == 6.6
    assert percentile({}, 0.5) is None


@pytest.mark.django_db
def test_the_nightly_repair_and_the_command_rebuild_from_the_messages(organization):
    from django.core.management import call_command

    from apps.backoffice.figures import local_midnight
    from apps.backoffice.tasks import rollup_repair

    message = _submit(organization)  # not counted: no commit hook ran
    yesterday = local_midnight(timezone.now()) - timedelta(hours=12)
    Message.objects.filter(pk=message.pk).update(created_at=yesterday)
    assert rollup_repair() == 3  # the network's total, its carrier and priority, the client
    assert MessageRollup.objects.get(event="submitted", carrier="", organization_id=0).messages == 1
    MessageRollup.objects.all().delete()
    call_command("backoffice_rollup_rebuild", "--days", "2", stdout=io.StringIO())
    assert MessageRollup.objects.filter(event="submitted").count() == 3


@pytest.mark.django_db
def test_a_message_the_filter_rejects_at_accept_counts_as_submitted_and_rejected(
    organization, django_capture_on_commit_callbacks
):
    from apps.messaging.filtering.runtime import compiled_filter
    from apps.messaging.models import FilterTerm

    FilterTerm.objects.update_or_create(term="casino", language="en", defaults={"category": "gambling", "weight": 1000})
    compiled_filter.expire()
    with django_capture_on_commit_callbacks(execute=True):
        message = message_submit(
            organization=organization, api_key=None, data=MessageInput(to="+85512345678", body="Best casino online")
        )
    assert message.status == MessageStatus.REJECTED
    totals = MessageRollup.objects.filter(carrier="", organization_id=0)
    assert set(totals.values_list("event", "messages")) == {("submitted", 1), ("rejected", 1)}
    before = _rows()
    rollup_rebuild(since=timezone.now() - timedelta(hours=2), until=timezone.now())
    assert _rows() == before
    compiled_filter.expire()


@pytest.mark.django_db
def test_a_process_adds_up_its_commits_and_writes_them_in_one_upsert(
    organization, settings, django_capture_on_commit_callbacks, django_assert_num_queries
):
    from apps.backoffice.rollup import rollup_flush

    settings.ROLLUP_FLUSH_SECONDS = 3600  # the timer does not fire during the test: the flush below writes
    try:
        with django_capture_on_commit_callbacks(execute=True):
            first = _submit(organization)
        with django_capture_on_commit_callbacks(execute=True):
            _submit(organization, "+85512345679")
        message_transition(message=first, to=MessageStatus.ASSIGNED)
        with django_capture_on_commit_callbacks(execute=True):
            message_transition(message=first, to=MessageStatus.FAILED, reason="send_failed")
        assert not MessageRollup.objects.exists()  # pending in this process
        with django_assert_num_queries(1):
            assert rollup_flush() == 6  # submitted and failed: network, carrier+priority, client
    finally:
        settings.ROLLUP_FLUSH_SECONDS = 0
        rollup_flush()
    totals = MessageRollup.objects.filter(carrier="", organization_id=0)
    assert set(totals.values_list("event", "messages")) == {("submitted", 2), ("failed", 1)}
    assert MessageRollup.objects.get(event="submitted", organization_id=organization.pk).segments == 2
    assert rollup_flush() == 0  # nothing left pending


@pytest.mark.django_db
def test_the_daily_series_counts_each_hour_in_its_cambodian_day():
    """The 30-day chart sums hours per local day in the database: 23:00 and midnight in Phnom Penh (16:00 and 17:00
    UTC) fall on two days."""
    from datetime import UTC, date, datetime

    from apps.backoffice.figures import series_by_day

    for hour, messages in ((16, 3), (17, 5), (18, 7)):
        MessageRollup.objects.create(hour=datetime(2026, 12, 4, hour, tzinfo=UTC), event="submitted", messages=messages)
    MessageRollup.objects.create(hour=datetime(2026, 12, 4, 18, tzinfo=UTC), event="failed", messages=1)
    days = series_by_day(first=date(2026, 12, 4), days=2)
    assert [(day["title"], day["submitted"], day["failed"], day["delivered"]) for day in days] == [
        ("2026-12-04", 3, 0, 0),
        ("2026-12-05", 12, 1, 0),
    ]
