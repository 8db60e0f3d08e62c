"""The simulator's phones speak the phone protocol as the README describes it, against a live server: a busy phone
sends `sent` reports first, then `delivered` ones, then acknowledgements; and it answers for jobs whose outcome the
server does not know."""

import json
import random
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from apps.accounts.services import client_create, session_start
from apps.accounts.tests.factories import UserFactory
from apps.messaging.choices import JobStatus, MessageStatus
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim
from apps.simulator.fleet import Behaviour, Fleet, Scheduler, VirtualPhone

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def requests_seen() -> list[tuple[str, object]]:
    return []


@pytest.fixture
def fleet(live_server, requests_seen, settings) -> Iterator[Fleet]:
    """A fleet whose phones collect for a minute (the test flushes them) and never get round to sending by
    themselves; every request it makes is recorded at the wire, in order."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 5

    def record(request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        requests_seen.append((f"{request.method} {request.url.path}", body))

    scheduler = Scheduler(threads=2)
    with httpx.Client(base_url=live_server.url, event_hooks={"request": [record]}) as http:
        yield Fleet(
            http=http,
            behaviour=Behaviour(send_delay=(3600, 3600), offline_share=0, batch_seconds=60),
            scheduler=scheduler,
            audit_numbers=set(),
            audit_token="",
            rng=random.Random(1),
        )
    scheduler.stop()


def cellcard_phone() -> VirtualPhone:
    """A virtual phone behind the only Cellcard provider, its DID bound as enrolment binds it, signed in."""
    provider = provider_with_sim(Carrier.CELLCARD)
    phone = VirtualPhone(0, "cellcard", honest=True, rng=random.Random(2))
    provider.user.did = phone.did
    provider.user.save(update_fields=["did"])
    phone.headers = {"Authorization": f"Bearer {session_start(user=provider.user, device_name='sim').access}"}
    phone.provider_id = provider.pk
    return phone


@pytest.fixture
def phone(fleet) -> VirtualPhone:
    phone = cellcard_phone()
    fleet.add(phone)
    return phone


def offered_jobs(count: int) -> list[Job]:
    organization = client_create(user=UserFactory(), name="Acme")
    jobs = []
    for index in range(count):
        data = MessageInput(to=f"012 345 67{index}", body="Hi")
        message = message_submit(organization=organization, api_key=None, data=data)
        dispatch(message)
        jobs.append(Job.objects.get(message=message))
    return jobs


def acknowledge(fleet: Fleet, phone: VirtualPhone, job: Job) -> dict:
    fleet._ack(phone, job.pk)
    return phone.taken[job.pk]


def test_a_busy_phone_sends_sent_reports_first_then_delivered_then_acknowledgements(fleet, phone, requests_seen):
    fleet.behaviour.folded = False  # the folded phone would take the new offer from the first answer, before its push
    earlier, later, new = offered_jobs(3)
    earlier_job, later_job = acknowledge(fleet, phone, earlier), acknowledge(fleet, phone, later)
    Job.objects.filter(pk=earlier.pk).update(offered_at=timezone.now() - timedelta(minutes=1))
    # Queued in the order things happened: the earlier job's delivery, the later job's send, a new job's push.
    fleet._report(phone, earlier_job, "sent")
    fleet._flush(phone)
    fleet._report(phone, earlier_job, "delivered")
    fleet._report(phone, later_job, "sent")
    fleet.on_push(phone.fcm_token, {"kind": "job", "job": str(new.pk)})
    requests_seen.clear()
    fleet._flush(phone)

    assert [path for path, _ in requests_seen] == ["POST /api/jobs/reports", "POST /api/jobs/ack"]
    reports = requests_seen[0][1]["reports"]
    assert [(row["job_id"], row["status"]) for row in reports] == [(later.pk, "sent"), (earlier.pk, "delivered")]
    assert requests_seen[1][1] == {"jobs": [new.pk]}
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {earlier.pk: JobStatus.DELIVERED, later.pk: JobStatus.SENT, new.pk: JobStatus.ACCEPTED}


def test_a_folded_phone_sends_its_reports_and_acknowledgements_in_one_request(fleet, phone, requests_seen):
    """The acknowledgements ride on the reports' request, which takes them after the reports; if that request gets
    no answer, they wait with the reports for the next try."""
    earlier, new = offered_jobs(2)
    earlier_job = acknowledge(fleet, phone, earlier)
    Job.objects.filter(pk=earlier.pk).update(offered_at=timezone.now() - timedelta(minutes=1))
    fleet._report(phone, earlier_job, "sent")
    fleet._report(phone, earlier_job, "delivered")
    fleet.on_push(phone.fcm_token, {"kind": "job", "job": str(new.pk)})
    requests_seen.clear()

    fleet._flush(phone)

    assert [path for path, _ in requests_seen] == ["POST /api/jobs/reports"]
    body = requests_seen[0][1]
    assert [(row["job_id"], row["status"]) for row in body["reports"]] == [(earlier.pk, "delivered")]
    assert body["acks"] == [new.pk]
    assert new.pk in phone.taken  # the answer's job: the phone holds it, to send
    statuses = dict(Job.objects.values_list("pk", "status"))
    assert statuses == {earlier.pk: JobStatus.DELIVERED, new.pk: JobStatus.ACCEPTED}


def test_a_phone_answers_for_jobs_whose_outcome_is_unknown(fleet, phone, requests_seen):
    fleet.behaviour.batch_seconds = 0  # answers go out at once
    kept, lost = offered_jobs(2)
    acknowledge(fleet, phone, kept)
    acknowledge(fleet, phone, lost)
    phone.sent.add(kept.pk)  # it sent this one; the report never left the phone
    Job.objects.filter(pk__in=[kept.pk, lost.pk]).update(deadline=timezone.now())
    jobs_expire_overdue()
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.UNKNOWN}
    requests_seen.clear()

    fleet.heartbeat(phone)

    paths = [path for path, _ in requests_seen]
    assert paths[:2] == ["POST /api/providers/me/heartbeat", "GET /api/providers/me/jobs"]
    answers = {path: body for path, body in requests_seen[2:]}
    assert answers[f"POST /api/jobs/{kept.pk}/report"]["status"] == "sent"
    assert answers[f"POST /api/jobs/{lost.pk}/report"] | {"occurred_at": "", "signature": ""} == {
        "status": "failed",
        "error_code": "not_sent",
        "occurred_at": "",
        "signature": "",
    }
    kept.refresh_from_db()
    lost.refresh_from_db()
    assert (kept.status, kept.message.status) == (JobStatus.SENT, MessageStatus.SENT)
    assert (lost.status, lost.message.status) == (JobStatus.FAILED, MessageStatus.QUEUED)
    assert fleet.ledger.unknown_answered == 2
    requests_seen.clear()
    fleet.heartbeat(phone)  # nothing left to answer for
    assert not any("report" in path for path, _ in requests_seen)


@pytest.mark.parametrize("folded", [True, False], ids=["folded", "classic"])
def test_a_phone_with_the_delivery_receipt_reports_delivered_alone(fleet, phone, requests_seen, folded):
    """The folded protocol: `sent` and `delivered` of one job in one batch go as `delivered` alone, and the offers the
    answer lists are acknowledged in the same flush, before their pushes. The classic phone reports both, and waits
    for the push."""
    fleet.behaviour.folded = folded
    done, new = offered_jobs(2)
    job = acknowledge(fleet, phone, done)
    Job.objects.filter(pk=done.pk).update(offered_at=timezone.now() - timedelta(minutes=1))
    fleet._report(phone, job, "sent")
    fleet._report(phone, job, "delivered")
    requests_seen.clear()
    fleet._flush(phone)

    reports = [(row["job_id"], row["status"]) for row in requests_seen[0][1]["reports"]]
    if folded:
        assert [path for path, _ in requests_seen] == ["POST /api/jobs/reports", "POST /api/jobs/ack"]
        assert reports == [(done.pk, "delivered")]
        assert requests_seen[1][1] == {"jobs": [new.pk]}
    else:
        assert [path for path, _ in requests_seen] == ["POST /api/jobs/reports"]
        assert reports == [(done.pk, "sent"), (done.pk, "delivered")]
    done.refresh_from_db()
    assert (done.status, done.sent_at is not None, done.message.status) == (
        JobStatus.DELIVERED,
        True,
        MessageStatus.DELIVERED,
    )
    assert Job.objects.get(pk=new.pk).status == (JobStatus.ACCEPTED if folded else JobStatus.OFFERED)


def test_a_busy_phone_sends_no_heartbeat(fleet, phone, requests_seen):
    """With the folded protocol a phone that made a request within the round skips its heartbeat; the server counted
    that request as one."""
    [job] = offered_jobs(1)
    acknowledge(fleet, phone, job)
    requests_seen.clear()
    fleet.heartbeat(phone, every=30)
    assert requests_seen == []
    fleet.behaviour.folded = False
    fleet.heartbeat(phone, every=30)
    assert [path for path, _ in requests_seen][:1] == ["POST /api/providers/me/heartbeat"]


def test_a_folded_phone_answers_a_wake_up_push_with_a_heartbeat(fleet, phone, requests_seen):
    """Marked offline, a phone's other requests no longer count as heartbeats: the wake-up push gets one at once."""
    [job] = offered_jobs(1)
    acknowledge(fleet, phone, job)  # a request just now: the round of heartbeats would skip this phone
    requests_seen.clear()
    fleet.on_push(phone.fcm_token, {"kind": "wake"})
    waited = time.monotonic() + 30  # the scheduler's threads send it; wait for the request, not for a set time
    while not requests_seen and time.monotonic() < waited:
        time.sleep(0.05)
    assert [path for path, _ in requests_seen][:1] == ["POST /api/providers/me/heartbeat"]
