"""The phone protocol with fewer requests per message: a `sent` report that acknowledges the offered job too, a
`delivered` report alone, the report's answer listing the next offered jobs, any request counting as a heartbeat —
and the batch of reports handled as a set (its query count does not grow with the number of reports)."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.models import DeliveryReport
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Availability, Carrier
from apps.providers.models import Provider
from apps.providers.services import provider_seen
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def roomy(settings):
    """One phone may hold many jobs at once (a busy phone's batch)."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 50
    settings.PROVIDER_SIM_WARMUP_HOURLY_CAP = settings.PROVIDER_SIM_HOURLY_CAP = 100
    settings.PROVIDER_SIM_HOURLY_CAP_MAX = 100
    settings.PROVIDER_SIM_WARMUP_DAILY_CAP = settings.PROVIDER_SIM_DAILY_CAP = 300


def offered(count: int, *, to_prefix: str = "012 345 6") -> list[Job]:
    """`count` jobs offered to the providers there are (one Cellcard provider in most tests), offered a minute ago."""
    organization = client_create(user=UserFactory(), name="Acme")
    jobs = []
    for index in range(count):
        data = MessageInput(to=f"{to_prefix}{index:02d}", body="Hi")
        message = message_submit(organization=organization, api_key=None, data=data)
        assert dispatch(message) == "assigned"
        jobs.append(Job.objects.select_related("provider__user").get(message=message))
    Job.objects.filter(pk__in=[job.pk for job in jobs]).update(offered_at=timezone.now() - timedelta(minutes=1))
    return jobs


def iso(moment=None) -> str:
    return (moment or timezone.now()).isoformat().replace("+00:00", "Z")


def report(client, job, status, **extra):
    payload = {"status": status, "occurred_at": extra.pop("occurred_at", iso()), **extra}
    return client.post(f"/api/jobs/{job.pk}/report", payload, format="json")


@pytest.fixture
def phone(provider, api_client_for):
    return api_client_for(provider.user)


def test_a_sent_report_acknowledges_an_offered_job(provider, phone):
    [job] = offered(1)
    answer = report(phone, job, "sent")
    assert answer.status_code == 200
    assert answer.json()["flags"] == ["unsigned", "ack_folded"]
    job.refresh_from_db()
    assert (job.status, job.accepted_at is not None, job.sent_at is not None) == (JobStatus.SENT, True, True)
    assert Message.objects.get(pk=job.message_id).status == MessageStatus.SENT


def test_the_old_way_still_works_acknowledge_then_report_each(provider, phone):
    [job] = offered(1)
    assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    assert report(phone, job, "sent").json()["flags"] == ["unsigned"]
    assert report(phone, job, "delivered").json()["job_status"] == "delivered"


def test_a_job_offered_to_another_phone_is_refused(provider, api_client_for):
    [job] = offered(1)
    other = provider_with_sim(Carrier.CELLCARD)
    answer = report(api_client_for(other.user), job, "sent")
    assert (answer.status_code, answer.json()["code"]) == (404, "job_not_found")
    job.refresh_from_db()
    assert (job.status, job.accepted_at) == (JobStatus.OFFERED, None)


def test_a_folded_report_after_the_offer_ended_changes_nothing(provider, phone):
    """The offer ended (given to another phone): the phone that sent anyway is told its report came late."""
    [job] = offered(1)
    Job.objects.filter(pk=job.pk).update(status=JobStatus.EXPIRED, finished_at=timezone.now())
    body = report(phone, job, "sent").json()
    assert (body["applied"], "late" in body["flags"], body["job_status"]) == (False, True, "expired")
    assert Job.objects.get(pk=job.pk).accepted_at is None


def test_delivered_alone_implies_sent(provider, phone):
    [job] = offered(1)
    phone.post(f"/api/jobs/{job.pk}/ack")
    moment = timezone.now() - timedelta(seconds=5)
    body = report(phone, job, "delivered", occurred_at=iso(moment)).json()
    assert (body["job_status"], body["message_status"]) == ("delivered", "delivered")
    job.refresh_from_db()
    message = Message.objects.get(pk=job.message_id)
    assert job.sent_at == moment and message.sent_at == moment and message.delivered_at == moment
    provider.refresh_from_db()
    assert (provider.jobs_delivered, provider.jobs_in_flight) == (1, 0)


def test_delivered_alone_acknowledges_an_offered_job_too(provider, phone):
    [job] = offered(1)
    assert "ack_folded" in report(phone, job, "delivered").json()["flags"]
    job.refresh_from_db()
    assert (job.status, job.accepted_at is not None, job.sent_at is not None) == (JobStatus.DELIVERED, True, True)


def stored_report_reads(client, job, status):
    """The report's answer, and how many times it read the stored reports."""
    with CaptureQueriesContext(connection) as queries:
        answer = report(client, job, status)
    reads = [query["sql"] for query in queries if query["sql"].startswith('SELECT "delivery_deliveryreport"')]
    return answer.json(), len(reads)


def test_a_report_of_a_job_still_offered_reads_no_stored_reports(provider, phone, roomy, settings):
    """A job offered and live under the report's lock has no report stored (one would have moved it, or found its
    offer over): the folded report skips that read. Any other job's report reads them (its repeat is a duplicate)."""
    settings.DELIVERY_SETTLE_LINGER_MS = 300  # settled a moment later (its read of the reports is not the request's)
    folded, acknowledged = offered(2)
    body, reads = stored_report_reads(phone, folded, "delivered")
    assert (body["applied"], "ack_folded" in body["flags"], reads) == (True, True, 0)
    assert phone.post(f"/api/jobs/{acknowledged.pk}/ack").status_code == 200
    body, reads = stored_report_reads(phone, acknowledged, "delivered")
    assert (body["applied"], "ack_folded" in body["flags"], reads) == (True, False, 1)
    body, reads = stored_report_reads(phone, folded, "delivered")
    assert (body["duplicate"], body["flags"], reads) == (True, ["unsigned", "ack_folded"], 1)


def test_a_late_report_of_an_offered_job_repeated_is_a_duplicate(provider, phone, settings):
    """The offer's deadline passed before the sweep ended it: the report is kept, flagged `late`, and the job stays
    offered; sent again, it is answered as the stored one (the stored reports are read: the offer is not live)."""
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    [job] = offered(1)
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    first, reads = stored_report_reads(phone, job, "delivered")
    assert (first["applied"], "late" in first["flags"], first["job_status"], reads) == (False, True, "offered", 1)
    again, reads = stored_report_reads(phone, job, "delivered")
    assert (again["duplicate"], again["flags"], again["applied"], reads) == (True, first["flags"], False, 1)
    assert DeliveryReport.objects.filter(job=job).count() == 1


def test_a_stored_copy_of_a_report_of_a_job_read_offered_is_still_a_duplicate(provider, phone):
    """Should a report be stored for a job that still reads offered and live (a copy flagged `late` by a server whose
    clock ran ahead of this one's), the report's skipped read does not store it twice: the reports' unique
    constraint refuses the copy and it is answered as the stored one, changing nothing."""
    [job] = offered(1)
    stored = DeliveryReport.objects.create(
        job=job,
        provider=provider,
        status="delivered",
        occurred_at=timezone.now(),
        signed=False,
        applied=False,
        flags=["unsigned", "late"],
    )
    answer = report(phone, job, "delivered")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["duplicate"], body["applied"], body["flags"]) == (True, False, ["unsigned", "late"])
    assert list(DeliveryReport.objects.filter(job=job).values_list("pk", flat=True)) == [stored.pk]
    job.refresh_from_db()
    assert (job.status, job.accepted_at) == (JobStatus.OFFERED, None)


def test_a_report_answer_lists_the_next_offered_jobs(provider, phone, roomy):
    first, waiting = offered(2)
    listed = report(phone, first, "sent").json()["offered"]
    assert [row["id"] for row in listed] == [waiting.pk]
    assert set(listed[0]) == {"id", "status", "offered_at", "accepted_at", "deadline"}
    batch = {"reports": [{"job_id": first.pk, "status": "delivered", "occurred_at": iso()}]}
    assert [row["id"] for row in phone.post("/api/jobs/reports", batch, format="json").json()["offered"]] == [
        waiting.pk
    ]


class TestPiggyBackedHeartbeats:
    def test_a_report_counts_as_a_heartbeat(self, provider, phone):
        [job] = offered(1)
        long_ago = timezone.now() - timedelta(minutes=2)
        Provider.objects.filter(pk=provider.pk).update(last_heartbeat_at=long_ago, availability=Availability.ONLINE)
        report(phone, job, "sent")
        assert Provider.objects.get(pk=provider.pk).last_heartbeat_at > long_ago

    def test_at_most_one_write_per_window(self, provider, settings):
        settings.PROVIDER_SEEN_REFRESH_SECONDS = 15
        now = timezone.now()
        Provider.objects.filter(pk=provider.pk).update(
            last_heartbeat_at=now - timedelta(minutes=2), availability=Availability.ONLINE
        )
        assert provider_seen(user_id=provider.user_id, now=now) is True
        with CaptureQueriesContext(connection) as queries:
            assert provider_seen(user_id=provider.user_id, now=now + timedelta(seconds=1)) is False
        assert len(queries) == 0  # the Redis key says it was refreshed in this window
        cache.clear()  # the key lived its 15 s; the time bound of the UPDATE still holds
        assert provider_seen(user_id=provider.user_id, now=now + timedelta(seconds=5)) is False
        assert Provider.objects.get(pk=provider.pk).last_heartbeat_at == now
        cache.clear()
        assert provider_seen(user_id=provider.user_id, now=now + timedelta(seconds=16)) is True

    def test_an_offline_phone_needs_a_real_heartbeat(self, provider):
        long_ago = timezone.now() - timedelta(minutes=10)
        Provider.objects.filter(pk=provider.pk).update(last_heartbeat_at=long_ago, availability=Availability.OFFLINE)
        assert provider_seen(user_id=provider.user_id) is False
        assert Provider.objects.get(pk=provider.pk).last_heartbeat_at == long_ago


def batch_queries(phone, jobs, status) -> tuple[int, list[dict]]:
    body = {"reports": [{"job_id": job.pk, "status": status, "occurred_at": iso()} for job in jobs]}
    with CaptureQueriesContext(connection) as queries:
        results = phone.post("/api/jobs/reports", body, format="json").json()["results"]
    return len(queries), results


def test_a_batch_of_reports_costs_about_what_one_report_costs(provider, phone, roomy):
    """Set-based: the batch's jobs are locked by one query, its reports stored by one INSERT, its `sent` moves made
    by one UPDATE (and one for the messages). Counted through the API; a per-report regression fails this."""
    jobs = offered(21)
    for job in jobs:
        phone.post(f"/api/jobs/{job.pk}/ack")
    one, [result] = batch_queries(phone, jobs[:1], "sent")
    assert result["job_status"] == "sent"
    twenty, results = batch_queries(phone, jobs[1:], "sent")
    assert [row["job_status"] for row in results] == ["sent"] * 20
    assert one <= 12
    # A client's webhook subscription look-up is the only per-report work a `sent` report has left (one query for
    # each message's organisation, cached per request): the batch's own statements do not grow with it.
    assert twenty <= one + 2, (one, twenty)
    assert DeliveryReport.objects.filter(status="sent").count() == 21
    assert Message.objects.filter(status=MessageStatus.SENT).count() == 21


def test_a_batch_keeps_each_jobs_order(provider, phone, roomy):
    """A job's `sent` then `delivered` in one batch apply in that order, next to other jobs' reports."""
    first, second = offered(2)
    body = {
        "reports": [
            {"job_id": first.pk, "status": "sent", "occurred_at": iso()},
            {"job_id": second.pk, "status": "sent", "occurred_at": iso()},
            {"job_id": first.pk, "status": "delivered", "occurred_at": iso()},
            {"job_id": first.pk, "status": "sent", "occurred_at": iso()},
        ]
    }
    results = phone.post("/api/jobs/reports", body, format="json").json()["results"]
    assert [(row["job_status"], row["duplicate"]) for row in results] == [
        ("sent", False),
        ("sent", False),
        ("delivered", False),
        ("delivered", True),
    ]
    assert dict(Job.objects.values_list("pk", "status")) == {first.pk: JobStatus.DELIVERED, second.pk: JobStatus.SENT}
