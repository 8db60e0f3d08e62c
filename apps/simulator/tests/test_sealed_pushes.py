"""A virtual phone with a seal key takes a job straight from its push: the push goes through real firebase-admin to
the simulator's FCM fake, which hands it to the phone; the phone opens the sealed content, sends the SMS and reports
`delivered` alone, without acknowledging or reading the job — the report acknowledges it (`ack_folded`). One
request for the message. A push that does not open goes the old way."""

import json
import random
import time
from collections.abc import Iterator

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from apps.delivery.services import jobs_push
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.providers.models import Device
from apps.simulator.fleet import Behaviour, Fleet, Scheduler, SimulatorFcm, VirtualPhone
from apps.simulator.tests.test_phone_protocol import cellcard_phone, offered_jobs

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def requests_seen() -> list[tuple[str, object]]:
    return []


@pytest.fixture
def fleet(live_server, requests_seen, settings, tmp_path) -> Iterator[Fleet]:
    """Phones that send within a moment and have the delivery receipt a moment later; every request they make is
    recorded at the wire. The push backend is FCM, pointed at the simulator's fake, which hands pushes to the fleet."""
    settings.REPORT_MIN_DELIVERY_SECONDS = 0

    def record(request: httpx.Request) -> None:
        body = json.loads(request.content) if request.content else None
        requests_seen.append((f"{request.method} {request.url.path}", body))

    scheduler = Scheduler(threads=2)
    behaviour = Behaviour(send_delay=(0.01, 0.02), deliver_delay=(0.01, 0.02), fail_share=0, offline_share=0)
    with httpx.Client(base_url=live_server.url, event_hooks={"request": [record]}) as http:
        fleet = Fleet(
            http=http,
            behaviour=behaviour,
            scheduler=scheduler,
            audit_numbers=set(),
            audit_token="",
            rng=random.Random(1),
        )
        with SimulatorFcm(project_id="peerpower-test", on_push=fleet.on_push) as fcm:
            settings.PUSH_BACKEND = "fcm"
            settings.FCM_CREDENTIALS_FILE = str(fcm.write_service_account(tmp_path / "service-account.json"))
            settings.FCM_PROJECT_ID = ""
            settings.FCM_ENDPOINT = fcm.endpoint
            fleet.fcm = fcm
            yield fleet
    scheduler.stop()


@pytest.fixture
def phone(fleet) -> VirtualPhone:
    """The Cellcard phone, its FCM token and seal key registered as the app registers them."""
    phone = cellcard_phone()
    Device.objects.filter(provider_id=phone.provider_id).update(fcm_token=phone.fcm_token)
    device = {"fcm_token": phone.fcm_token, "platform": "android", "app_version": "1.0", "seal_key": phone.seal_key}
    assert fleet.http.post("/api/providers/me/devices", json=device, headers=phone.headers).status_code == 200
    fleet.add(phone)
    return phone


def reported(fleet: Fleet, job: Job, status: str, seconds: float = 10.0) -> Job:
    """The job once the phone's `status` report was answered (the ledger says so: the database is not polled while
    the server writes it, which SQLite would refuse)."""
    deadline = time.monotonic() + seconds
    while fleet.ledger.reports[status] < 1:
        assert time.monotonic() < deadline, f"no {status} report of job {job.pk}"
        time.sleep(0.05)
    job.refresh_from_db()
    return job


def test_a_sealed_push_is_sent_and_reported_without_an_acknowledgement(fleet, phone, requests_seen):
    [job] = offered_jobs(1)
    requests_seen.clear()
    assert jobs_push(job_ids=[job.pk]) == {job.pk: "sent"}
    assert sorted(fleet.fcm.accepted[0].data) == ["job", "kind", "sealed"]  # through the fake, as FCM carries it
    assert reported(fleet, job, "delivered").status == JobStatus.DELIVERED
    assert [path for path, _ in requests_seen] == [f"POST /api/jobs/{job.pk}/report"]
    assert requests_seen[0][1]["status"] == "delivered"
    assert (fleet.ledger.opened, fleet.ledger.acks) == (1, 0)
    assert job.reports.get().flags == ["ack_folded"]


def test_a_push_that_does_not_open_goes_the_old_way(fleet, phone, requests_seen):
    [job] = offered_jobs(1)
    phone.seal_private = X25519PrivateKey.generate()  # the app lost its key (reinstalled): cannot open
    requests_seen.clear()
    assert jobs_push(job_ids=[job.pk]) == {job.pk: "sent"}
    assert reported(fleet, job, "delivered").status == JobStatus.DELIVERED
    assert [path for path, _ in requests_seen] == [f"POST /api/jobs/{job.pk}/ack", f"POST /api/jobs/{job.pk}/report"]
    assert (fleet.ledger.opened, fleet.ledger.acks) == (0, 1)
