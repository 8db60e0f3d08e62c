"""Unresponsive phones: an offer that ends unacknowledged takes the phone out of matching until it is heard from
again (heartbeat, acknowledgement, report, pull), so a phone gone silent without warning is not offered message
after message while its heartbeat still looks fresh (apps.providers.services.responsiveness)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.services import jobs_ack_timeouts, jobs_push
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Provider, Sim
from apps.providers.selectors import sims_for_matching
from apps.providers.services import (
    capacity_release,
    providers_mark_unresponsive,
    providers_sweep_offline,
    sims_resync_matchable,
)
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


@pytest.fixture
def organization():
    return client_create(user=UserFactory(), name="Acme")


@pytest.fixture
def send(organization):
    """`send("012 345 678")`: a new message to that number, queued as the send API stores it."""

    def make(to: str = "012 345 678"):
        return message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body="Your code"))

    return make


@pytest.fixture
def silent(send):
    """A Cellcard phone (the only one) whose first offer ended unacknowledged: its lease ran out still offered."""
    provider = provider_with_sim(Carrier.CELLCARD)
    assert dispatch(send("012 345 600")) == "assigned"
    Job.objects.update(deadline=timezone.now() - timedelta(seconds=1))
    assert jobs_expire_overdue() == 1
    provider.refresh_from_db()
    return provider


def cellcard_pool() -> list[int]:
    return [
        candidate.provider_id
        for candidate in sims_for_matching(carriers=[Carrier.CELLCARD], now=timezone.now(), limit=10)
    ]


def test_an_offer_ending_unacknowledged_stops_new_offers_to_that_phone(silent, send):
    assert silent.unresponsive_since is not None
    assert not Sim.objects.get(provider=silent).matchable
    # Its heartbeat is fresh and it holds no job (the expired one gave its slot back): before, it was the
    # least loaded candidate. Now the next message waits rather than be offered to it.
    assert Provider.objects.get(pk=silent.pk).jobs_in_flight == 0
    assert dispatch(send()) == "waiting"
    live = provider_with_sim(Carrier.CELLCARD)
    assert dispatch(send("012 345 601")) == "assigned"
    assert set(Job.objects.filter(status=JobStatus.OFFERED).values_list("provider_id", flat=True)) == {live.pk}


def test_the_matching_query_checks_the_mark_even_if_the_flag_is_stale(silent):
    Sim.objects.filter(provider=silent).update(matchable=True)
    assert cellcard_pool() == []


def test_nothing_else_puts_an_unresponsive_phone_back(silent):
    """The repair sweep, a job of its ending, and another missed offer leave it out (and keep the first mark's time:
    staff read how long it has been silent)."""
    assert sims_resync_matchable() == 0
    job = Job.objects.get()
    capacity_release(provider_id=silent.pk, sim_id=job.sim_id, reserved_at=job.reserved_at, sms_sent=False)
    assert cellcard_pool() == []
    first_mark = timezone.now() - timedelta(minutes=5)
    Provider.objects.filter(pk=silent.pk).update(unresponsive_since=first_mark)
    assert providers_mark_unresponsive(provider_ids=[silent.pk], now=timezone.now()) == 0
    assert Provider.objects.get(pk=silent.pk).unresponsive_since == first_mark


def heartbeat(client, job):
    return client.post("/api/providers/me/heartbeat", {}, format="json")


def acknowledgement(client, job):
    # Too late for the job (given away), but the phone is plainly alive.
    return client.post(f"/api/jobs/{job.pk}/ack")


def report(client, job):
    occurred = timezone.now().isoformat().replace("+00:00", "Z")
    return client.post(f"/api/jobs/{job.pk}/report", {"status": "sent", "occurred_at": occurred}, format="json")


def pull(client, job):
    return client.get("/api/providers/me/jobs")


@pytest.mark.parametrize(
    ("speak", "status"),
    [(heartbeat, 200), (acknowledgement, 409), (report, 200), (pull, 200)],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_phone_heard_from_again_is_offered_work_at_once(silent, send, api_client_for, speak, status):
    client = api_client_for(silent.user)
    assert speak(client, Job.objects.get()).status_code == status
    silent.refresh_from_db()
    assert silent.unresponsive_since is None
    assert Sim.objects.get(provider=silent).matchable
    assert dispatch(send()) == "assigned"
    assert Job.objects.get(status=JobStatus.OFFERED).provider_id == silent.pk


def test_another_phone_speaking_changes_nothing(silent, api_client_for):
    other = provider_with_sim(Carrier.SMART)
    assert api_client_for(other.user).get("/api/providers/me/jobs").status_code == 200
    assert api_client_for(other.user).post("/api/providers/me/heartbeat", {}, format="json").status_code == 200
    assert Provider.objects.get(pk=silent.pk).unresponsive_since is not None


def test_an_offer_given_away_for_no_acknowledgement_marks_the_phone(fcm_fake, send):
    """The other way an offer ends unacknowledged: pushed twice within JOB_ACK_SECONDS each, never acknowledged."""
    phone = provider_with_sim(Carrier.CELLCARD)
    message = send()
    assert dispatch(message) == "assigned"
    job = Job.objects.get()
    jobs_push(job_ids=[job.pk])
    back = timezone.now() - timedelta(seconds=31)
    Job.objects.filter(pk=job.pk).update(offered_at=back, last_pushed_at=back)
    assert jobs_ack_timeouts() == {"repushed": 1, "released": 0}
    assert Provider.objects.get(pk=phone.pk).unresponsive_since is None  # a re-push is not a missed offer yet
    Job.objects.filter(pk=job.pk).update(last_pushed_at=back)
    assert jobs_ack_timeouts() == {"repushed": 0, "released": 1}
    assert Provider.objects.get(pk=phone.pk).unresponsive_since is not None
    message.refresh_from_db()
    assert message.status == MessageStatus.QUEUED
    assert dispatch(send("012 345 603")) == "waiting"


def test_push_failures_do_not_mark_the_phone(fcm_fake, send, settings):
    """A push that could not be delivered is the channel's failure, not the phone's: it may still pull."""
    phone = provider_with_sim(Carrier.CELLCARD)
    assert dispatch(send()) == "assigned"
    job = Job.objects.get()
    fcm_fake.fail_next("QUOTA_EXCEEDED", count=5)
    assert jobs_push(job_ids=[job.pk], retry=settings.PUSH_MAX_RETRIES)[job.pk] == "released"
    assert Provider.objects.get(pk=phone.pk).unresponsive_since is None


def test_a_silent_phone_is_still_marked_offline_by_the_sweep(silent, settings):
    """The mark does not replace the heartbeat sweep: a phone that stays silent goes offline as before."""
    stale = timezone.now() - timedelta(seconds=settings.PROVIDER_HEARTBEAT_INTERVAL * 10)
    Provider.objects.filter(pk=silent.pk).update(last_heartbeat_at=stale)
    assert providers_sweep_offline() == [silent.pk]


def test_a_phone_marked_unresponsive_is_asked_to_speak_by_a_wake_up_push(fcm_fake, django_capture_on_commit_callbacks):
    # A live phone whose acknowledgement an outage refused heartbeats on the push and is offered work again at once;
    # without the push it would wait for its next scheduled heartbeat.
    provider = provider_with_sim(Carrier.CELLCARD)
    with django_capture_on_commit_callbacks(execute=True):
        assert providers_mark_unresponsive(provider_ids=[provider.pk], now=timezone.now()) == 1
    assert [message.data for message in fcm_fake.accepted] == [{"kind": "wake"}]
