"""Jobs reach phones: push through real firebase-admin to the local FCM fake, acknowledgement, re-push, re-match,
dead tokens, the pull fallback with ETag, and wake-up pushes."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.services import jobs_ack_timeouts, jobs_push, providers_wake_up
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job, Message
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Device
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def message():
    organization = client_create(user=UserFactory(), name="Acme")
    return message_submit(
        organization=organization, api_key=None, data=MessageInput(to="012 345 678", body="Your code is 1234")
    )


@pytest.fixture
def job(message):
    provider_with_sim(Carrier.CELLCARD)
    assert dispatch(message) == "assigned"
    return Job.objects.select_related("provider").get(message=message)


def device_of(job) -> Device:
    return Device.objects.get(provider=job.provider)


def test_offer_push_carries_only_the_job_id_and_kind(fcm_fake, job):
    before = timezone.now()
    assert jobs_push(job_ids=[job.pk])[job.pk] == "sent"
    after = timezone.now()
    [received] = fcm_fake.accepted
    assert received.token == device_of(job).fcm_token
    assert received.data == {"job": str(job.pk), "kind": "job"}
    assert received.android["priority"] == "high"
    # The TTL is the lease left when the push went out, in whole seconds: bounded by the clock read before and after
    # the push, so a slow machine cannot push it out of range.
    ttl = float(received.android["ttl"].rstrip("s"))
    assert (job.deadline - after).total_seconds() - 1 < ttl <= (job.deadline - before).total_seconds()
    assert "notification" not in received.message  # data-only
    job.refresh_from_db()
    assert (job.push_attempts, job.last_push_error) == (1, "")


def test_dead_token_retires_the_device_and_rematches_at_once(fcm_fake, job, message):
    other = provider_with_sim(Carrier.CELLCARD)
    fcm_fake.fail_token(device_of(job).fcm_token, "UNREGISTERED")
    assert jobs_push(job_ids=[job.pk])[job.pk] == "released"
    job.refresh_from_db()
    message.refresh_from_db()
    assert (job.status, job.end_reason) == (JobStatus.EXPIRED, "push_token_dead")
    assert not Device.objects.filter(provider=job.provider).exists()
    assert message.status == MessageStatus.QUEUED
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message, status=JobStatus.OFFERED).provider == other


def test_transient_errors_are_retried_then_succeed(fcm_fake, job):
    fcm_fake.fail_next("QUOTA_EXCEEDED")
    assert jobs_push(job_ids=[job.pk])[job.pk] == "retry"
    assert jobs_push(job_ids=[job.pk], retry=1)[job.pk] == "sent"
    assert len(fcm_fake.accepted) == 1
    job.refresh_from_db()
    assert job.push_attempts == 2


def test_transient_errors_past_the_retries_rematch(fcm_fake, job, message, settings):
    fcm_fake.fail_next("QUOTA_EXCEEDED", count=5)
    assert jobs_push(job_ids=[job.pk], retry=settings.PUSH_MAX_RETRIES)[job.pk] == "released"
    job.refresh_from_db()
    assert (job.status, job.end_reason, job.last_push_error) == (JobStatus.EXPIRED, "push_failed", "QUOTA_EXCEEDED")
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED


def test_a_batch_of_jobs_is_pushed_at_once_and_each_outcome_handled(fcm_fake, job, settings):
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 1  # one job per phone
    organization = job.message.organization
    others = []
    for n in range(3):
        provider_with_sim(Carrier.CELLCARD)
        data = MessageInput(to=f"012 345 70{n}", body="x")
        other = message_submit(organization=organization, api_key=None, data=data)
        assert dispatch(other) == "assigned"
        others.append(Job.objects.get(message=other))
    dead, busy, fine = others
    fcm_fake.fail_token(device_of(dead).fcm_token, "UNREGISTERED")
    fcm_fake.fail_token(device_of(busy).fcm_token, "QUOTA_EXCEEDED")
    job_ids = [job.pk, dead.pk, busy.pk, fine.pk]
    outcomes = jobs_push(job_ids=job_ids)
    assert outcomes == {job.pk: "sent", dead.pk: "released", busy.pk: "retry", fine.pk: "sent"}
    assert sorted(int(m.data["job"]) for m in fcm_fake.accepted) == sorted([job.pk, fine.pk])
    assert Job.objects.filter(pk__in=[job.pk, fine.pk], push_attempts=1, last_push_error="").count() == 2
    assert Job.objects.get(pk=busy.pk).last_push_error == "QUOTA_EXCEEDED"
    assert Job.objects.get(pk=dead.pk).status == JobStatus.EXPIRED  # released: its message goes to another phone
    assert not Device.objects.filter(provider_id=dead.provider_id).exists()  # the dead token is forgotten
    # A job no longer offered is not pushed again.
    assert jobs_push(job_ids=[dead.pk]) == {dead.pk: "skipped"}


def test_no_ack_means_one_repush_then_another_provider(fcm_fake, job, message):
    other = provider_with_sim(Carrier.CELLCARD)
    jobs_push(job_ids=[job.pk])[job.pk]
    back = timezone.now() - timedelta(seconds=31)
    Job.objects.filter(pk=job.pk).update(offered_at=back, last_pushed_at=back)
    assert jobs_ack_timeouts() == {"repushed": 1, "released": 0}
    assert len(fcm_fake.accepted) == 2
    Job.objects.filter(pk=job.pk).update(last_pushed_at=back)
    assert jobs_ack_timeouts() == {"repushed": 0, "released": 1}
    job.refresh_from_db()
    assert (job.status, job.end_reason) == (JobStatus.EXPIRED, "no_ack")
    assert dispatch(message) == "assigned"
    assert Job.objects.get(message=message, status=JobStatus.OFFERED).provider == other


def test_an_acknowledged_job_is_not_repushed(fcm_fake, job, api_client_for):
    jobs_push(job_ids=[job.pk])[job.pk]
    api_client_for(job.provider.user).post(f"/api/jobs/{job.pk}/ack")
    back = timezone.now() - timedelta(seconds=120)
    Job.objects.filter(pk=job.pk).update(offered_at=back, last_pushed_at=back)
    assert jobs_ack_timeouts() == {"repushed": 0, "released": 0}


def test_ack_returns_what_the_phone_needs(job, message, api_client_for):
    client = api_client_for(job.provider.user)
    response = client.post(f"/api/jobs/{job.pk}/ack")
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == job.pk and body["status"] == "accepted"
    assert (body["message_id"], body["to"], body["body"]) == (message.pk, "+85512345678", "Your code is 1234")
    assert (body["encoding"], body["segments"]) == ("gsm7", 1)
    assert body["trace_token"] == job.trace_token and body["deadline"]
    assert client.post(f"/api/jobs/{job.pk}/ack").json() == body  # acknowledging twice is harmless
    assert client.get(f"/api/jobs/{job.pk}").json()["status"] == "accepted"


def test_another_provider_or_a_stranger_cannot_ack_or_read(job, api_client_for, api_client):
    other = provider_with_sim(Carrier.SMART)
    for client, status in ((api_client_for(other.user), 404), (api_client_for(UserFactory()), 404), (api_client, 401)):
        assert client.post(f"/api/jobs/{job.pk}/ack").status_code == status
        assert client.get(f"/api/jobs/{job.pk}").status_code == status
    job.refresh_from_db()
    assert job.status == JobStatus.OFFERED


def test_ack_after_the_lease_ended(job, api_client_for):
    Job.objects.filter(pk=job.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    response = api_client_for(job.provider.user).post(f"/api/jobs/{job.pk}/ack")
    assert (response.status_code, response.json()["code"]) == (409, "lease_expired")


def test_batch_ack_answers_each_job_on_its_own(job, message, api_client_for):
    organization = message.organization
    second = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 679", body="Hi"))
    third = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 670", body="Yo"))
    assert dispatch(second) == "assigned"  # one batch of the dispatcher leases both
    third.refresh_from_db()
    assert third.status == MessageStatus.ASSIGNED
    mine, ended = Job.objects.get(message=second), Job.objects.get(message=third)
    assert mine.provider_id == ended.provider_id == job.provider_id
    Job.objects.filter(pk=ended.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    smart_message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to="010 345 678", body="Hey")
    )
    provider_with_sim(Carrier.SMART)
    assert dispatch(smart_message) == "assigned"
    theirs = Job.objects.get(message=smart_message)
    client = api_client_for(job.provider.user)

    response = client.post("/api/jobs/ack", {"jobs": [job.pk, theirs.pk, mine.pk, ended.pk, 999999]}, format="json")

    assert response.status_code == 200
    rows = response.json()["results"]
    assert [row["job_id"] for row in rows] == [job.pk, theirs.pk, mine.pk, ended.pk, 999999]
    assert [row["ok"] for row in rows] == [True, False, True, False, False]
    codes = [row["error"]["code"] for row in rows if not row["ok"]]
    assert codes == ["job_not_found", "lease_expired", "job_not_found"]
    assert rows[0]["job"]["status"] == rows[2]["job"]["status"] == "accepted"
    assert (rows[2]["job"]["to"], rows[2]["job"]["body"]) == ("+85512345679", "Hi")
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert (statuses[job.pk], statuses[mine.pk]) == (JobStatus.ACCEPTED, JobStatus.ACCEPTED)
    assert (statuses[theirs.pk], statuses[ended.pk]) == (JobStatus.OFFERED, JobStatus.OFFERED)
    again = client.post("/api/jobs/ack", {"jobs": [job.pk]}, format="json").json()["results"]
    assert again == [rows[0]]  # acknowledging twice is harmless


@pytest.mark.parametrize("body", [{}, {"jobs": []}, {"jobs": ["x"]}, {"jobs": [0]}, {"jobs": list(range(1, 502))}])
def test_batch_ack_refuses_bad_input(job, api_client_for, body):
    response = api_client_for(job.provider.user).post("/api/jobs/ack", body, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    job.refresh_from_db()
    assert job.status == JobStatus.OFFERED


def test_pull_lists_only_the_callers_offered_jobs_with_etag(job, api_client_for, django_assert_max_num_queries):
    client = api_client_for(job.provider.user)
    # The session, clearing a missed-acknowledgement mark (an UPDATE that matches nothing here), the jobs, and the
    # request counted as a heartbeat (one UPDATE per phone per PROVIDER_SEEN_REFRESH_SECONDS: this is the first).
    with django_assert_max_num_queries(4):
        first = client.get("/api/providers/me/jobs", {"status": "offered"})
    assert [entry["id"] for entry in first.json()] == [job.pk]
    etag = first["ETag"]
    again = client.get("/api/providers/me/jobs", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304 and again["ETag"] == etag
    client.post(f"/api/jobs/{job.pk}/ack")
    changed = client.get("/api/providers/me/jobs", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200 and changed.json() == []
    other = provider_with_sim(Carrier.SMART)
    assert api_client_for(other.user).get("/api/providers/me/jobs").json() == []
    unsupported = client.get("/api/providers/me/jobs", {"status": "sent"})
    assert unsupported.json()["code"] == "status_not_supported"


def test_wake_up_push_and_dead_tokens(fcm_fake):
    alive, dead = provider_with_sim(Carrier.SMART), provider_with_sim(Carrier.METFONE)
    fcm_fake.fail_token(Device.objects.get(provider=dead).fcm_token, "UNREGISTERED")
    providers_wake_up([alive.pk, dead.pk])
    assert [message.data for message in fcm_fake.accepted] == [{"kind": "wake"}]
    assert Device.objects.filter(provider=alive).exists()
    assert not Device.objects.filter(provider=dead).exists()


def test_dispatch_hands_the_new_job_to_the_push_channel(message, django_capture_on_commit_callbacks, settings):
    settings.MESSAGING_JOB_OFFER_HOOK = "apps.delivery.tests.test_jobs.record_offer"
    OFFERS.clear()
    provider_with_sim(Carrier.CELLCARD)
    with django_capture_on_commit_callbacks(execute=True):
        dispatch(message)
    assert OFFERS == [[Job.objects.get(message=message).pk]]
    assert Message.objects.get(pk=message.pk).status == MessageStatus.ASSIGNED


OFFERS: list[list[int]] = []


def record_offer(job_ids: list[int]) -> None:
    """A stand-in push channel for the hook test: the hook is a setting, like an email backend."""
    OFFERS.append(job_ids)


def test_by_default_new_jobs_are_pushed_by_the_push_channel(settings):
    from django.utils.module_loading import import_string

    from apps.delivery.services import job_offer_push_later

    assert import_string(settings.MESSAGING_JOB_OFFER_HOOK) is job_offer_push_later
