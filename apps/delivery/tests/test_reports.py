"""Delivery reports: each path and illegal one, idempotency, batches, late reports, signatures."""

import base64
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.test_did import new_key
from apps.delivery.models import DeliveryReport
from apps.delivery.reports import ReportInput, report_signing_text, report_submit
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.messaging.tests.test_concurrency import run_together
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    organization = client_create(user=UserFactory(), name="Acme")
    return message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Hi"))


@pytest.fixture
def job(message):
    provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    return Job.objects.select_related("provider__user").get(message=message)


@pytest.fixture
def phone(job, api_client_for):
    client = api_client_for(job.provider.user)
    client.post(f"/api/jobs/{job.pk}/ack")
    return client


def iso(moment=None) -> str:
    return (moment or timezone.now()).isoformat().replace("+00:00", "Z")


def report(client, job, status, **extra):
    payload = {"status": status, "occurred_at": extra.pop("occurred_at", iso()), **extra}
    return client.post(f"/api/jobs/{job.pk}/report", payload, format="json")


def age_offer(job, seconds=30):
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(seconds=seconds))


def test_sent_then_delivered(phone, job, message):
    age_offer(job)
    sent = report(phone, job, "sent")
    assert sent.status_code == 200, sent.json()
    assert (sent.json()["job_status"], sent.json()["message_status"]) == ("sent", "sent")
    delivered = report(phone, job, "delivered")
    assert (delivered.json()["job_status"], delivered.json()["message_status"]) == ("delivered", "delivered")
    message.refresh_from_db()
    assert message.sent_at and message.delivered_at and message.finished_at
    provider = Provider.objects.get(pk=job.provider_id)
    assert (provider.jobs_delivered, provider.jobs_in_flight) == (1, 0)


def test_a_repeated_report_is_idempotent(phone, job):
    age_offer(job)
    first = report(phone, job, "sent").json()
    again = report(phone, job, "sent", occurred_at=iso(timezone.now() + timedelta(seconds=5))).json()
    assert again["duplicate"] is True and first["duplicate"] is False
    assert DeliveryReport.objects.filter(job=job).count() == 1


def test_retryable_failure_goes_to_another_provider(phone, job, message):
    other = provider_with_sim(Carrier.CELLCARD)
    response = report(phone, job, "failed", error_code="no_service")
    assert (response.json()["job_status"], response.json()["message_status"]) == ("failed", "queued")
    message.refresh_from_db()
    assert message.status_reason == "provider_failed:no_service"
    assert Provider.objects.get(pk=job.provider_id).jobs_failed == 1
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message, status=JobStatus.OFFERED).provider == other


def test_final_failure_fails_the_message(phone, job, message):
    response = report(phone, job, "failed", error_code="invalid_number")
    assert response.json()["message_status"] == "failed"
    message.refresh_from_db()
    assert message.status_reason == "invalid_number"
    assert Provider.objects.get(pk=job.provider_id).jobs_failed == 0  # not the provider's fault


def test_failed_needs_an_error_code(phone, job):
    assert report(phone, job, "failed").json()["code"] == "error_code_required"


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"status": "read"}, "validation_error"),
        ({"status": "sent", "occurred_at": "yesterday"}, "validation_error"),
        ({"status": "sent", "occurred_at": "2026-01-01T10:00:00"}, "validation_error"),  # no time zone
        ({"status": "failed", "error_code": "cosmic_rays"}, "validation_error"),
    ],
)
def test_malformed_reports(phone, job, payload, code):
    payload.setdefault("occurred_at", iso())
    response = phone.post(f"/api/jobs/{job.pk}/report", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (400, code)


def test_occurred_in_the_future(phone, job):
    response = report(phone, job, "sent", occurred_at=iso(timezone.now() + timedelta(hours=1)))
    assert response.json()["code"] == "occurred_at_in_future"


def test_illegal_after_final_is_stored_as_late_and_changes_nothing(phone, job, message):
    age_offer(job)
    report(phone, job, "delivered")
    late = report(phone, job, "failed", error_code="no_service").json()
    assert late["flags"] == ["unsigned", "late"] and late["applied"] is False
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


def test_a_late_report_after_re_lease_never_overrides_the_new_lease(job, message, api_client_for):
    phone = api_client_for(job.provider.user)  # never acknowledged: its lease ending gives the message to another
    second = provider_with_sim(Carrier.CELLCARD)
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    jobs_expire_overdue()
    dispatch(message)
    new_job = Job.objects.get(message=message, status=JobStatus.OFFERED)
    assert new_job.provider == second
    late = report(phone, job, "delivered").json()
    assert "late" in late["flags"] and not late["applied"]
    message.refresh_from_db()
    assert message.status == MessageStatus.ASSIGNED
    assert Job.objects.get(pk=new_job.pk).status == JobStatus.OFFERED
    assert DeliveryReport.objects.get(job=job).flags == ["unsigned", "late"]


def test_providers_cannot_report_each_others_jobs(job, api_client_for, api_client):
    other = api_client_for(provider_with_sim(Carrier.SMART).user)
    assert report(other, job, "delivered").status_code == 404
    assert report(api_client, job, "delivered").status_code == 401
    assert not DeliveryReport.objects.exists()


def test_odd_reports_are_flagged(job, api_client_for):
    client = api_client_for(job.provider.user)  # never acknowledged
    response = report(client, job, "delivered")  # and within a second of the offer
    assert set(response.json()["flags"]) == {"unsigned", "ack_folded", "fast_delivery"}


def test_delivered_before_sent_is_flagged(phone, job):
    age_offer(job, 120)
    report(phone, job, "sent", occurred_at=iso())
    flags = report(phone, job, "delivered", occurred_at=iso(timezone.now() - timedelta(seconds=60))).json()["flags"]
    assert "delivered_before_sent" in flags


def test_batch_of_queued_reports(phone, job, message):
    age_offer(job)
    body = {
        "reports": [
            {"job_id": job.pk, "status": "sent", "occurred_at": iso()},
            {"job_id": job.pk, "status": "delivered", "occurred_at": iso()},
            {"job_id": 999999, "status": "sent", "occurred_at": iso()},
            {"job_id": job.pk, "status": "nope", "occurred_at": iso()},
            {"job_id": job.pk, "status": "sent", "occurred_at": iso()},
        ]
    }
    results = phone.post("/api/jobs/reports", body, format="json").json()["results"]
    assert [r["ok"] for r in results] == [True, True, False, False, True]
    assert results[2]["error"]["code"] == "job_not_found"
    assert results[3]["error"]["code"] == "validation_error"
    assert results[4]["duplicate"] is True
    message.refresh_from_db()
    assert message.status == MessageStatus.DELIVERED


class TestSignatures:
    @pytest.fixture
    def signer(self, job):
        key, did = new_key()
        user = User.objects.get(pk=job.provider.user_id)
        user.did = did
        user.save(update_fields=["did"])  # a save, as did_bind does: the phone's cached session sees it
        return key

    def sign(self, key: Ed25519PrivateKey, job, status, occurred_at) -> str:
        text = report_signing_text(
            job_id=job.pk, status=status, occurred_at_text=occurred_at, trace_token=job.trace_token
        )
        return base64.b64encode(key.sign(text.encode())).decode()

    def test_good_signature(self, phone, job, signer):
        age_offer(job)
        moment = iso()
        response = report(phone, job, "sent", occurred_at=moment, signature=self.sign(signer, job, "sent", moment))
        assert response.status_code == 200 and response.json()["flags"] == []
        assert DeliveryReport.objects.get().signed is True

    def test_signature_over_other_values_is_refused(self, phone, job, signer):
        moment = iso()
        wrong_status = self.sign(signer, job, "delivered", moment)
        response = report(phone, job, "sent", occurred_at=moment, signature=wrong_status)
        assert (response.status_code, response.json()["code"]) == (400, "report_signature_invalid")
        other_key, _ = new_key()
        response = report(phone, job, "sent", occurred_at=moment, signature=self.sign(other_key, job, "sent", moment))
        assert response.json()["code"] == "report_signature_invalid"
        assert not DeliveryReport.objects.exists()

    def test_a_forged_copy_of_a_stored_report_is_refused(self, phone, job, signer):
        """The repeat short-cut comes after the signature check: a forged duplicate is a 400, not the stored 200."""
        age_offer(job)
        moment = iso()
        genuine = report(phone, job, "sent", occurred_at=moment, signature=self.sign(signer, job, "sent", moment))
        assert genuine.status_code == 200, genuine.json()
        other_key, _ = new_key()
        forged = report(phone, job, "sent", occurred_at=moment, signature=self.sign(other_key, job, "sent", moment))
        assert (forged.status_code, forged.json()["code"]) == (400, "report_signature_invalid")
        again = report(phone, job, "sent", occurred_at=moment, signature=self.sign(signer, job, "sent", moment))
        assert (again.status_code, again.json()["duplicate"]) == (200, True)
        assert DeliveryReport.objects.filter(job=job).count() == 1

    def test_missing_signature_is_refused_once_the_rollout_ends(self, phone, job, signer, settings):
        settings.REPORTS_ALLOW_UNSIGNED = False
        assert report(phone, job, "sent").json()["code"] == "report_signature_required"

    def test_a_provider_without_a_did_cannot_sign(self, phone, job):
        response = report(phone, job, "sent", signature="AAAA")
        assert response.json()["code"] == "report_signature_invalid"


def test_a_sent_job_is_never_handed_to_another_phone(phone, job, message):
    """Once the phone reports sent, the lease runs to the end of validity; if delivery is never confirmed the
    message expires rather than going to a second phone (which would send the SMS twice)."""
    provider_with_sim(Carrier.CELLCARD)
    age_offer(job)
    report(phone, job, "sent")
    job.refresh_from_db()
    message.refresh_from_db()
    assert job.deadline == message.expires_at
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    jobs_expire_overdue()
    message.refresh_from_db()
    assert (message.status, message.status_reason) == (MessageStatus.EXPIRED, "delivery_unconfirmed")
    assert Job.objects.filter(message=message).count() == 1
    assert dispatch(message) == "skipped"


def test_peerpowers_own_messages_do_not_stick_to_a_provider(api_client_for):
    from apps.messaging.otp import system_client
    from apps.providers.models import StickySender

    message = message_submit(
        organization=system_client(), api_key=None, data=MessageInput(to="012 345 678", body="x"), trusted=True
    )
    provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    job = Job.objects.get(message=message)
    client = api_client_for(job.provider.user)
    client.post(f"/api/jobs/{job.pk}/ack")
    age_offer(job)
    assert report(client, job, "delivered").json()["message_status"] == "delivered"
    assert not StickySender.objects.exists()


def second_job(provider_user) -> Job:
    organization = client_create(user=UserFactory(), name="Other")
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 679", body="Hi"))
    assert dispatch(message) == "assigned"
    job = Job.objects.select_related("provider__user").get(message=message)
    assert job.provider.user == provider_user
    return job


# Queries of a report through the API on a warm day (its rate row exists; the session is cached per process): the
# transaction (its savepoint and release, the locked job, its message's status read again, the reports stored for it,
# the job's move, the message's lock and move for `sent`, the report's insert; for a delivery also the capacity
# release and the look-up of a message waiting for that capacity) and after it the burst count (deliveries) and the
# jobs now offered (the answer's `offered`); the first report for an organisation also looks up its webhook
# endpoints. A delivery's reward, capture, day's rate row, reputation and sticky sender are the settle step's, a
# moment later (`test_settling` pins its cost).
SENT_QUERIES = 10
DELIVERED_QUERIES = 11 if connection.vendor == "postgresql" else 12


def warm_job(phone, job) -> Job:
    """A second accepted job of the same provider, after a first one was delivered (the day's rate row exists)."""
    age_offer(job)
    report(phone, job, "sent")
    report(phone, job, "delivered")
    organization = Message.objects.get(pk=job.message_id).organization
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 679", body="Hi"))
    assert dispatch(message) == "assigned"
    warm = Job.objects.select_related("provider__user").get(message=message, provider=job.provider)
    phone.post(f"/api/jobs/{warm.pk}/ack")
    age_offer(warm)
    return warm


def test_a_report_costs_a_bounded_number_of_queries(phone, job, django_assert_max_num_queries, settings):
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    warm = warm_job(phone, job)
    with django_assert_max_num_queries(SENT_QUERIES):
        assert report(phone, warm, "sent").json()["job_status"] == "sent"
    with django_assert_max_num_queries(DELIVERED_QUERIES):
        assert report(phone, warm, "delivered").json()["job_status"] == "delivered"


def test_a_batch_costs_no_more_than_its_reports(phone, job, django_assert_max_num_queries, settings):
    settings.DELIVERY_SETTLE_LINGER_MS = 300
    warm = warm_job(phone, job)
    body = {
        "reports": [
            {"job_id": warm.pk, "status": "sent", "occurred_at": iso()},
            {"job_id": warm.pk, "status": "delivered", "occurred_at": iso()},
        ]
    }
    # One transaction, one locked query, one look-up of stored reports, one insert and one `offered` for both.
    with django_assert_max_num_queries(SENT_QUERIES + DELIVERED_QUERIES - 5):
        results = phone.post("/api/jobs/reports", body, format="json").json()["results"]
    assert [(row["ok"], row["job_status"]) for row in results] == [(True, "sent"), (True, "delivered")]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks under real concurrency: PostgreSQL")
def test_the_same_report_sent_at_once_counts_once(job):
    """A phone retrying over a flaky network: the copies wait for the job's lock, and all but one are duplicates."""
    workers = 8
    Job.objects.filter(pk=job.pk).update(accepted_at=timezone.now())
    age_offer(job)
    moment = timezone.now()
    data = ReportInput(job_id=job.pk, status="delivered", occurred_at=moment, occurred_at_text=iso(moment))
    user = job.provider.user
    results = run_together(lambda: report_submit(user=user, data=data), workers)
    assert sorted(result.duplicate for result in results) == [False] + [True] * (workers - 1)
    assert {(result.job_status, result.message_status) for result in results} == {("delivered", "delivered")}
    assert DeliveryReport.objects.filter(job=job).count() == 1
    provider = Provider.objects.get(pk=job.provider_id)
    assert (provider.jobs_delivered, provider.jobs_in_flight) == (1, 0)
