"""What a phone's report and acknowledgement cost in round trips to PostgreSQL (issue 21), counted on the wire
(apps.core.tests.round_trips): BEGIN and COMMIT included, once the process and the connection are warm.

A folded `delivered` report (the job offered, not acknowledged): BEGIN; the job locked with its message, and the
provider's recent deliveries counted for the burst check in the same statement; the job's move, and the messages
waiting for the capacity it gives back read by the same statement; the provider's slot and SIM given back; the
message's move; the report's insert; COMMIT; the offered jobs for the answer — 8 (11 when the burst count was a
statement of its own after the commit and the waiting messages one of their own, 9 while the stored reports were read
for a job the lock shows offered and live, which has none). The report of an acknowledged job reads them: 9.

An acknowledgement: one statement that moves and reads its jobs, without BEGIN and COMMIT — 1 (it was 4: BEGIN, the
lock, the move, COMMIT)."""

import threading
import time

import psycopg
import pytest
from django.db import connection, connections

from apps.backoffice.rollup import rollup_flush
from apps.core.tests.round_trips import RoundTrips
from apps.delivery.tests.test_folded_protocol import iso, offered, phone, roomy  # noqa: F401 - fixtures
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.messaging.services import jobs_accept

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="round trips to PostgreSQL"),
    pytest.mark.django_db(transaction=True),
]

# The round trips of a warm request (the figures of the module's docstring).
FOLDED_REPORT_ROUND_TRIPS = 8
REPORT_ROUND_TRIPS = 9
ACK_ROUND_TRIPS = 1


def post_reports(client, jobs, status="delivered"):
    rows = [{"job_id": job.pk, "status": status, "occurred_at": iso()} for job in jobs]
    response = client.post("/api/jobs/reports", {"reports": rows}, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_a_folded_delivered_report_round_trips(provider, phone, roomy, settings):  # noqa: F811 - fixtures
    settings.DELIVERY_SETTLE_LINGER_MS = 300  # settled a moment later, by the settle step, as in production
    settings.ROLLUP_FLUSH_SECONDS = 3600  # the dashboard's sums written by a timer, as in production
    jobs = offered(4)
    post_reports(phone, [jobs[0]])  # warm: statements prepared, the day's rows made
    with RoundTrips() as trips:
        answer = post_reports(phone, [jobs[1]])
    assert [(r["job_status"], r["message_status"]) for r in answer["results"]] == [("delivered", "delivered")]
    assert [job["id"] for job in answer["offered"]] == [jobs[2].pk, jobs[3].pk]
    rollup_flush()
    assert trips.count == FOLDED_REPORT_ROUND_TRIPS, "\n".join(trips.statements)


def test_a_delivered_report_of_an_acknowledged_job_round_trips(provider, phone, roomy, settings):  # noqa: F811
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    settings.ROLLUP_FLUSH_SECONDS = 3600
    jobs = offered(4)
    jobs_accept(job_ids=[jobs[0].pk, jobs[1].pk], user=provider.user)
    post_reports(phone, [jobs[0]])  # warm
    with RoundTrips() as trips:
        answer = post_reports(phone, [jobs[1]])
    assert [(r["job_status"], r["flags"]) for r in answer["results"]] == [("delivered", ["unsigned"])]
    rollup_flush()
    assert trips.count == REPORT_ROUND_TRIPS, "\n".join(trips.statements)


def test_an_acknowledgement_round_trips(provider, phone, roomy):  # noqa: F811 - fixtures
    jobs = offered(3)
    assert phone.post("/api/jobs/ack", {"jobs": [jobs[0].pk]}, format="json").status_code == 200  # warm
    with RoundTrips() as trips:
        response = phone.post("/api/jobs/ack", {"jobs": [jobs[1].pk]}, format="json")
    assert [(row["job_id"], row["ok"], row["job"]["status"]) for row in response.json()["results"]] == [
        (jobs[1].pk, True, "accepted")
    ]
    assert Job.objects.get(pk=jobs[1].pk).status == JobStatus.ACCEPTED
    assert trips.count == ACK_ROUND_TRIPS, "\n".join(trips.statements)


def test_an_acknowledgement_that_waited_for_a_report_answers_with_the_job_as_the_report_left_it(
    provider,
    roomy,  # noqa: F811 - a fixture
):
    """The one-statement acknowledgement reads the jobs as they were when it began. A job it could not move although
    it read it offered was moved by another request while it waited for the lock: it is answered by the locking way
    (here, as a `sent` job: acknowledging it again is fine), never as a lease that ended."""
    [job] = offered(1)
    params = connection.settings_dict
    holder = psycopg.connect(
        dbname=params["NAME"], host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"]
    )
    observer = psycopg.connect(
        dbname=params["NAME"], host=params["HOST"], port=params["PORT"] or 5432, user=params["USER"], autocommit=True
    )
    try:
        # A report's transaction, its job moved to sent and not yet committed.
        holder.execute(
            "UPDATE messaging_job SET status = 'sent', sent_at = now(), accepted_at = now() WHERE id = %s", [job.pk]
        )
        answers: list = []
        thread = threading.Thread(target=acknowledge, args=(job, provider.user, answers))
        thread.start()
        deadline = time.monotonic() + 20
        while not observer.execute(
            "SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchone():
            assert time.monotonic() < deadline, "the acknowledgement never waited for the report's lock"
            time.sleep(0.01)
        holder.commit()
        thread.join(30)
    finally:
        holder.close()
        observer.close()
    [result] = answers
    assert isinstance(result, Job), result
    assert result.status == JobStatus.SENT
    assert Job.objects.get(pk=job.pk).status == JobStatus.SENT


def acknowledge(job, user, answers: list) -> None:
    try:
        answers.append(jobs_accept(job_ids=[job.pk], user=user)[0])
    finally:
        connections.close_all()
