"""The hot UPDATEs built once per process (apps.core.compiled.CompiledUpdate): the same rows written as the ORM's
`update()` writes them, the texts not built again on a warm report or dispatch, and what the text cannot carry left
to the ORM. And the report's and reward's INSERTs (apps.core.inserting): the rows `bulk_create` writes, no text built
by the ORM on a warm delivered report."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import F, Value
from django.db.models.functions import Coalesce
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.compiled import CompiledUpdate, ids_in
from apps.core.inserting import rows_insert
from apps.delivery.choices import ReportStatus, Unsettled
from apps.delivery.models import DeliveryReport
from apps.delivery.tests.test_compiled_queries import (  # noqa: F401 - the report batches' fixtures
    fields,
    inserts_built_by_the_orm,
    organization,
    phone,
    postgresql_only,
    prices,
    roomy,
    updates_built_by_the_orm,
)
from apps.delivery.tests.test_report_batches import acknowledged, post_batch, row
from apps.incentives.models import Reward
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch

pytestmark = pytest.mark.django_db

JOBS_OF = CompiledUpdate(lambda job_ids, status: Job.objects.filter(ids_in("pk", job_ids), status=status))


def test_a_compiled_update_writes_what_the_orms_update_writes(organization, provider, phone, roomy):  # noqa: F811
    compiled, twin, other = acknowledged(organization, phone, 3)
    finished = timezone.now() - timedelta(seconds=7)
    values = {
        "status": JobStatus.DELIVERED,
        "finished_at": finished,
        "end_reason": "delivered",
        "sent_at": None,  # a constant of the text
        "sticky": True,  # likewise
        "push_attempts": 3,
    }

    assert JOBS_OF.run(values, [compiled.pk], JobStatus.ACCEPTED) == 1
    assert Job.objects.filter(pk__in=[twin.pk], status=JobStatus.ACCEPTED).update(**values) == 1

    written, expected = fields(Job.objects.get(pk=compiled.pk)), fields(Job.objects.get(pk=twin.pk))
    different = {
        "id",
        "message_id",
        "trace_token",
        "sim_id",
        "provider_id",
        "offered_at",
        "accepted_at",
        "reserved_at",
        "deadline",
    }
    assert {name: value for name, value in written.items() if name not in different} == {
        name: value for name, value in expected.items() if name not in different
    }
    assert (written["status"], written["finished_at"], written["sent_at"]) == (JobStatus.DELIVERED, finished, None)
    assert Job.objects.get(pk=other.pk).status == JobStatus.ACCEPTED  # not among the ids


def test_rows_the_filter_no_longer_takes_are_left_alone(organization, provider, phone, roomy):  # noqa: F811
    [job] = acknowledged(organization, phone, 1)
    values = {"status": JobStatus.EXPIRED, "end_reason": "late"}

    assert JOBS_OF.run(values, [job.pk], JobStatus.OFFERED) == 0  # it is accepted, not offered
    assert JOBS_OF.run(values, [], JobStatus.ACCEPTED) == 0
    job.refresh_from_db()
    assert (job.status, job.end_reason) == (JobStatus.ACCEPTED, "")


def test_a_value_the_text_cannot_carry_is_written_by_the_orm(organization, provider, phone, roomy):  # noqa: F811
    [job] = acknowledged(organization, phone, 1)
    later = timezone.now() + timedelta(hours=1)

    with updates_built_by_the_orm() as built:
        assert JOBS_OF.run({"sent_at": Coalesce(F("sent_at"), Value(later))}, [job.pk], JobStatus.ACCEPTED) == 1

    assert built  # the ORM built it
    assert Job.objects.get(pk=job.pk).sent_at == later


def test_arithmetic_on_the_rows_columns_is_part_of_the_text(organization, provider, phone, roomy):  # noqa: F811
    [job] = acknowledged(organization, phone, 1)
    values = {"push_attempts": F("push_attempts") + 1, "last_pushed_at": timezone.now()}
    JOBS_OF.run(values, [job.pk], JobStatus.ACCEPTED)  # built, on PostgreSQL

    with updates_built_by_the_orm() as built:
        assert JOBS_OF.run({**values, "last_push_error": "x"}, [job.pk], JobStatus.ACCEPTED) == 1
        assert JOBS_OF.run({**values, "last_push_error": ""}, [job.pk], JobStatus.ACCEPTED) == 1

    job_now = Job.objects.get(pk=job.pk)
    assert (job_now.push_attempts, job_now.last_push_error) == (job.push_attempts + 3, "")
    if connection.vendor == "postgresql":
        assert len(built) == 1  # the second call ran the first one's text


@postgresql_only
def test_a_warm_delivered_report_builds_none_of_its_updates(organization, provider, phone, roomy, settings):  # noqa: F811
    settings.DELIVERY_SETTLE_LINGER_MS = -1  # settled in the request: its marks' UPDATE runs here too
    jobs = acknowledged(organization, phone, 2)
    post_batch(phone, [row(jobs[0], "delivered")])  # warm: this process has built its statements

    with updates_built_by_the_orm() as built, CaptureQueriesContext(connection) as ran:
        post_batch(phone, [row(jobs[1], "delivered")])

    tables = ('"messaging_job"', '"messaging_message"', '"delivery_deliveryreport"')
    assert [sql for sql in built if sql.startswith(tuple(f"UPDATE {table}" for table in tables))] == []
    executed = [query["sql"] for query in ran]
    for table in tables:
        # The jobs' UPDATE carries the read of the messages waiting for capacity (a WITH clause: one statement).
        assert any(sql.startswith((f"UPDATE {table}", f"WITH updated AS (UPDATE {table}")) for sql in executed), table
    job = Job.objects.select_related("message").get(pk=jobs[1].pk)
    assert (job.status, job.end_reason, job.message.status) == (JobStatus.DELIVERED, "delivered", "delivered")
    assert job.finished_at is not None and job.message.delivered_at is not None
    assert DeliveryReport.objects.get(job=job).unsettled == ""  # settled, its mark cleared


@postgresql_only
def test_a_warm_dispatch_builds_no_update_of_its_messages(organization, provider, phone, roomy):  # noqa: F811
    acknowledged(organization, phone, 1)  # warm
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 950", body="Hi"))

    with updates_built_by_the_orm() as built:
        assert dispatch(message) == "assigned"

    assert [sql for sql in built if sql.startswith('UPDATE "messaging_message"')] == []
    message = Message.objects.get(pk=message.pk)
    assert (message.status, message.attempts, message.next_attempt_at) == (MessageStatus.ASSIGNED, 1, None)


def test_a_deferred_report_is_marked_and_its_settlement_clears_the_mark(organization, provider, phone, roomy, settings):  # noqa: F811
    from apps.delivery.settling import deliveries_settle

    settings.DELIVERY_SETTLE_LINGER_MS = 300
    [job] = acknowledged(organization, phone, 1)
    post_batch(phone, [row(job, "delivered")])
    assert DeliveryReport.objects.get(job=job).unsettled == Unsettled.DELIVERY

    assert deliveries_settle(received_before=timezone.now() + timedelta(seconds=1)) == 1

    assert DeliveryReport.objects.get(job=job).unsettled == ""


# --- INSERTs ---------------------------------------------------------------------------------------------------------

TABLES = ('INSERT INTO "delivery_deliveryreport"', 'INSERT INTO "incentives_reward"')


def test_the_rows_are_those_bulk_create_writes(organization, provider, phone, roomy):  # noqa: F811
    jobs = acknowledged(organization, phone, 4)
    now = timezone.now()
    failed = {"status": ReportStatus.FAILED, "error_code": "no_signal", "parts": 2, "signed": True, "flags": ["late"]}

    def reports(first, second):
        times = {"provider": provider, "occurred_at": now, "received_at": now}
        return [
            DeliveryReport(job=first, status=ReportStatus.SENT, **times),
            DeliveryReport(job=second, **failed, **times),
        ]

    ours, orms = reports(jobs[0], jobs[1]), reports(jobs[2], jobs[3])
    rows_insert(DeliveryReport, ours)
    DeliveryReport.objects.bulk_create(orms)

    for mine, theirs in zip(ours, orms, strict=True):
        assert mine.pk is not None and not mine._state.adding
        stored = fields(DeliveryReport.objects.get(pk=mine.pk))
        expected = fields(DeliveryReport.objects.get(pk=theirs.pk))
        assert {**stored, "id": 0, "job_id": 0} == {**expected, "id": 0, "job_id": 0}


@postgresql_only
def test_a_warm_report_inserts_its_rows_unbuilt(organization, provider, phone, roomy, settings):  # noqa: F811
    """No INSERT of the delivered report or its reward built by the ORM."""
    settings.DELIVERY_SETTLE_LINGER_MS = -1  # settled in the request: its reward is inserted here too
    jobs = acknowledged(organization, phone, 2)
    post_batch(phone, [row(jobs[0], "delivered")])  # warm: this process has built its statements

    with inserts_built_by_the_orm() as built, CaptureQueriesContext(connection) as ran:
        post_batch(phone, [row(jobs[1], "delivered")])

    assert [sql for sql in built if sql.startswith(TABLES)] == []
    executed = [query["sql"] for query in ran]
    for table in TABLES:
        assert any(sql.startswith(table) for sql in executed), table
    assert DeliveryReport.objects.get(job=jobs[1]).status == ReportStatus.DELIVERED
    assert Reward.objects.get(job=jobs[1]).amount > 0
