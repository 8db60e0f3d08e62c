"""An acknowledged job is never handed to another phone on a timer: its lease ending without a report makes its
outcome `unknown`, the phone is asked (its pull lists the job) and answers with a report, and without an answer the
message is final `unknown` (the client hears it once) — never sent a second time."""

from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.delivery.models import DeliveryReport
from apps.delivery.reports import ReportInput, report_submit
from apps.delivery.webhooks.models import WebhookEvent
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.errors import JobNotResolvable
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, Resolution, job_resolve, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.messaging.tests.test_concurrency import run_together
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def message(organization, endpoint):
    """A message of a client listening for every webhook event, and the only on-net phone for it."""
    provider_with_sim(Carrier.CELLCARD)
    return message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Hi"))


@pytest.fixture
def job(message):
    dispatch(message)
    return Job.objects.select_related("provider__user").get(message=message)


@pytest.fixture
def phone(job, api_client_for):
    client = api_client_for(job.provider.user)
    assert client.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    return client


@pytest.fixture
def admin_client(client, staff):
    client.force_login(staff)
    return client


def iso(moment=None) -> str:
    return (moment or timezone.now()).isoformat().replace("+00:00", "Z")


def report(client, job, status, **extra):
    payload = {"status": status, "occurred_at": iso(), **extra}
    return client.post(f"/api/jobs/{job.pk}/report", payload, format="json")


def end_lease(job) -> None:
    """The lease's time is up and the sweep runs (another phone is free to take the message)."""
    provider_with_sim(Carrier.CELLCARD)
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(minutes=6), deadline=timezone.now())
    jobs_expire_overdue()


def after_answer_time(settings) -> timezone.datetime:
    return timezone.now() + timedelta(seconds=settings.JOB_UNKNOWN_ANSWER_SECONDS + 1)


def events(message) -> list[str]:
    return list(WebhookEvent.objects.filter(message_id=message.pk).order_by("pk").values_list("type", flat=True))


def test_an_acknowledged_job_past_its_lease_becomes_unknown_and_is_not_handed_on(phone, job, message, settings):
    end_lease(job)
    job.refresh_from_db()
    assert job.status == JobStatus.UNKNOWN and job.end_reason == "lease_ended_unreported"
    assert job.deadline > timezone.now() + timedelta(seconds=settings.JOB_UNKNOWN_ANSWER_SECONDS - 5)
    assert dispatch(message) == "skipped"  # still held by the unknown job, not back in the queue
    assert Job.objects.filter(message=message).count() == 1
    message.refresh_from_db()
    assert message.status == MessageStatus.ASSIGNED
    # The phone's SIM capacity stays reserved: it may have sent the SMS.
    assert Provider.objects.get(pk=job.provider_id).jobs_in_flight == 1


def test_the_pull_lists_unknown_jobs_until_the_phone_answers(phone, job):
    assert phone.get("/api/providers/me/jobs", {"status": "unknown"}).json() == []
    end_lease(job)
    listed = phone.get("/api/providers/me/jobs", {"status": "unknown"}).json()
    assert [(row["id"], row["status"]) for row in listed] == [(job.pk, "unknown")]
    assert listed[0]["accepted_at"] is not None
    assert phone.get("/api/providers/me/jobs").json() == []  # not an offer: it cannot be acknowledged again
    assert phone.post(f"/api/jobs/{job.pk}/ack").json()["code"] == "lease_expired"
    report(phone, job, "sent")
    assert phone.get("/api/providers/me/jobs", {"status": "unknown"}).json() == []


def test_an_unsupported_pull_status_is_a_clear_400(phone):
    response = phone.get("/api/providers/me/jobs", {"status": "sent"})
    assert response.status_code == 400 and response.json()["code"] == "status_not_supported"
    assert response.json()["details"]["supported"] == ["offered", "unknown"]


def test_the_phones_late_sent_report_resolves_it_to_the_truth(phone, job, message):
    end_lease(job)
    answer = report(phone, job, "sent").json()
    assert answer["applied"] is True and "answered_unknown" in answer["flags"] and "late" not in answer["flags"]
    assert (answer["job_status"], answer["message_status"]) == ("sent", "sent")
    delivered = report(phone, job, "delivered").json()
    assert (delivered["job_status"], delivered["message_status"]) == ("delivered", "delivered")
    assert events(message) == ["message.sent", "message.delivered"]
    assert Provider.objects.get(pk=job.provider_id).jobs_in_flight == 0


def test_a_late_delivered_report_alone_resolves_it_too(phone, job, message):
    end_lease(job)
    answer = report(phone, job, "delivered").json()
    assert answer["applied"] and (answer["job_status"], answer["message_status"]) == ("delivered", "delivered")


def test_not_sent_gives_the_message_to_another_phone(phone, job, message):
    end_lease(job)
    answer = report(phone, job, "failed", error_code="not_sent").json()
    assert answer["applied"] and (answer["job_status"], answer["message_status"]) == ("failed", "queued")
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message, status=JobStatus.OFFERED).provider_id != job.provider_id


def test_no_answer_makes_the_outcome_final_unknown_and_tells_the_client_once(phone, job, message, settings):
    settings.JOB_UNKNOWN_ANSWER_SECONDS = 600  # within the message's validity
    end_lease(job)
    jobs_expire_overdue()  # still waiting for the answer
    assert Job.objects.get(pk=job.pk).status == JobStatus.UNKNOWN
    later = after_answer_time(settings)
    assert jobs_expire_overdue(now=later) == 1
    assert jobs_expire_overdue(now=later) == 0
    job.refresh_from_db()
    message.refresh_from_db()
    assert (job.status, job.end_reason) == (JobStatus.EXPIRED, "outcome_unknown")
    assert (message.status, message.status_reason) == (MessageStatus.UNKNOWN, "no_answer")
    assert message.finished_at is not None
    assert events(message) == ["message.unknown"]
    assert dispatch(message) == "skipped"  # final: never sent again
    assert Job.objects.filter(message=message).count() == 1
    # Its capacity is given back; the phone loses reputation for going quiet.
    assert Provider.objects.get(pk=job.provider_id).jobs_in_flight == 0
    # An answer after that is stored, flagged late, and changes nothing.
    late = report(phone, job, "delivered").json()
    assert late["applied"] is False and "late" in late["flags"] and late["message_status"] == "unknown"
    assert events(message) == ["message.unknown"]


def test_the_client_reads_unknown(phone, job, message, settings, client_api):
    end_lease(job)
    jobs_expire_overdue(now=after_answer_time(settings))
    body = client_api.get(f"/api/messages/{message.pk}").json()
    assert body["status"] == "unknown"


def test_validity_ending_while_unknown_is_reported_as_unknown(phone, job, message, settings):
    end_lease(job)
    Message.objects.filter(pk=message.pk).update(expires_at=timezone.now())
    jobs_expire_overdue(now=after_answer_time(settings))
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.UNKNOWN, "validity_ended")
    assert events(message) == ["message.unknown"]


def test_an_offer_never_acknowledged_still_goes_to_another_phone(job, message):
    end_lease(job)
    job.refresh_from_db()
    assert (job.status, job.end_reason) == (JobStatus.EXPIRED, "lease_expired")
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message, status=JobStatus.OFFERED).provider_id != job.provider_id


def test_staff_resolve_not_sent_through_the_admin_audited(phone, job, message, admin_client):
    end_lease(job)
    url = reverse("admin:messaging_job_changelist")
    response = admin_client.post(url, {"action": "resolve_not_sent", "_selected_action": [job.pk]})
    assert response.status_code == 302
    job.refresh_from_db()
    message.refresh_from_db()
    assert (job.status, job.end_reason, message.status) == (JobStatus.FAILED, "staff_not_sent", MessageStatus.QUEUED)
    audit = AuditLog.objects.get(action="job.resolve_not_sent")
    assert audit.before == {"status": "unknown"} and audit.after["message_status"] == "queued"


def test_staff_resolve_sent_waits_for_the_delivery_report(phone, job, message, admin_client):
    end_lease(job)
    url = reverse("admin:messaging_job_changelist")
    admin_client.post(url, {"action": "resolve_sent", "_selected_action": [job.pk]})
    job.refresh_from_db()
    message.refresh_from_db()
    assert (job.status, message.status) == (JobStatus.SENT, MessageStatus.SENT)
    assert AuditLog.objects.filter(action="job.resolve_sent", target_id=str(job.pk)).exists()


def test_staff_cannot_resolve_a_job_the_phone_has_reported_on(phone, job, staff):
    report(phone, job, "sent")
    with pytest.raises(JobNotResolvable):
        job_resolve(job_id=job.pk, outcome=Resolution.NOT_SENT, actor=staff)
    assert Job.objects.get(pk=job.pk).status == JobStatus.SENT


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL")
@pytest.mark.parametrize("status", ["sent", "delivered"])
def test_a_late_report_racing_the_final_sweep_yields_exactly_one_outcome(phone, job, message, settings, status):
    end_lease(job)
    later = after_answer_time(settings)
    moment = timezone.now()
    data = ReportInput(job_id=job.pk, status=status, occurred_at=moment, occurred_at_text=iso(moment))
    user = job.provider.user

    def work():
        return report_submit(user=user, data=data) if threading_role.pop() else jobs_expire_overdue(now=later)

    threading_role = [True, False]
    results = run_together(work, 2)
    reported = next(result for result in results if not isinstance(result, int))
    job.refresh_from_db()
    message.refresh_from_db()
    stored = DeliveryReport.objects.get(job=job)
    if stored.applied:  # the report won: the truth, and the sweep found nothing to do
        assert (job.status, message.status) == (status, status)
        assert [result for result in results if isinstance(result, int)] == [0]
        assert "message.unknown" not in events(message)
    else:  # the sweep won: final unknown, the report stored as late
        assert (job.status, message.status) == (JobStatus.EXPIRED, MessageStatus.UNKNOWN)
        assert "late" in stored.flags and reported.job_status == JobStatus.EXPIRED
        assert events(message) == ["message.unknown"]
    # Capacity given back exactly once when the job ended (a sent job holds it until its delivery report).
    assert Provider.objects.get(pk=job.provider_id).jobs_in_flight == (1 if job.status == JobStatus.SENT else 0)
