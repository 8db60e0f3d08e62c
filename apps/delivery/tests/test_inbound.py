"""Inbound SMS forwarded by phones: STOP opts out (one client or all), other replies reach the client as
`inbound.received`, spoofed and unmatched ones are counted and dropped; and a carrier block reported on a job rests
the SIM."""

import base64
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.accounts.tests.test_did import new_key
from apps.core.errors import DomainError
from apps.delivery.inbound import INBOUND, inbound_signing_text
from apps.delivery.webhooks.models import WebhookEvent
from apps.messaging.models import Job, OptOut
from apps.messaging.services import MessageInput, message_submit, stop_keyword_add
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Sim
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

RECIPIENT = "+85512345678"  # Cellcard


def iso(moment=None):
    return (moment or timezone.now()).isoformat().replace("+00:00", "Z")


@pytest.fixture
def job(organization, endpoint):
    message = message_submit(
        organization=organization, api_key=None, data=MessageInput(to=RECIPIENT, body="Your order is ready")
    )
    provider_with_sim(Carrier.CELLCARD)
    dispatch(message)
    return Job.objects.select_related("provider__user", "message").get(message=message)


@pytest.fixture
def key(job):
    key, did = new_key()
    user = User.objects.get(pk=job.provider.user_id)
    user.did = did
    user.save(update_fields=["did"])  # a save, as did_bind does: the phone's cached session sees it
    return key


@pytest.fixture
def phone(job, api_client_for):
    client = api_client_for(job.provider.user)
    client.post(f"/api/jobs/{job.pk}/ack")
    response = client.post(f"/api/jobs/{job.pk}/report", {"status": "sent", "occurred_at": iso()}, format="json")
    assert response.status_code == 200, response.json()
    return client


def item(job, key, body, *, sender="012 345 678", sim_id=None, signature=None, received_at=None):
    sim_id = sim_id or job.sim_id
    received_at = received_at or iso()
    text = inbound_signing_text(sim_id=sim_id, sender=sender, received_at_text=received_at, body=body)
    if signature is None:
        signature = base64.b64encode(key.sign(text.encode())).decode()
    return {"sim": sim_id, "sender": sender, "body": body, "received_at": received_at, "signature": signature}


def forward(phone, *items):
    response = phone.post("/api/providers/me/inbound", {"messages": list(items)}, format="json")
    assert response.status_code == 200, response.json()
    return [row["outcome"] for row in response.json()["results"]]


def inbound_events():
    return [json.loads(event.body) for event in WebhookEvent.objects.filter(type="inbound.received")]


def count(outcome):
    return INBOUND.labels(outcome=outcome)._value.get()


@pytest.mark.parametrize("reply", ["STOP", "stop.", "ឈប់", "ឈប់ផ្ញើសារ"])
def test_stop_opts_the_sender_out_of_that_client(phone, job, key, reply, organization):
    assert forward(phone, item(job, key, reply)) == ["stopped"]
    assert OptOut.objects.get().organization_id == organization.pk
    with pytest.raises(DomainError) as refused:
        message_submit(organization=organization, api_key=None, data=MessageInput(to=RECIPIENT, body="Hi"))
    assert refused.value.code == "recipient_opted_out"
    other = client_create(user=UserFactory(), name="Other Co")
    message_submit(organization=other, api_key=None, data=MessageInput(to=RECIPIENT, body="Hi"))  # still allowed
    assert inbound_events() == []


@pytest.mark.parametrize("reply", ["STOP ALL", "ឈប់ទាំងអស់"])
def test_stop_all_opts_the_sender_out_of_every_client(phone, job, key, reply):
    assert forward(phone, item(job, key, reply)) == ["stopped"]
    assert OptOut.objects.get().organization_id is None


def test_the_clients_own_keyword_stops_it(phone, job, key, organization):
    assert forward(phone, item(job, key, "STOP ACME")) == ["forwarded"]  # not a keyword yet
    stop_keyword_add(organization=organization, keyword="stop acme", actor=None)
    assert forward(phone, item(job, key, "Stop Acme!")) == ["stopped"]
    assert OptOut.objects.get().organization_id == organization.pk


def test_another_reply_reaches_the_client_as_an_event(phone, job, key):
    assert forward(phone, item(job, key, "Thanks, I will come at 5")) == ["forwarded"]
    (event,) = inbound_events()
    assert event["type"] == "inbound.received"
    assert event["data"]["inbound"]["from"] == RECIPIENT
    assert event["data"]["inbound"]["body"] == "Thanks, I will come at 5"
    assert event["data"]["inbound"]["in_reply_to"]["id"] == job.message_id
    assert not OptOut.objects.exists()


def test_a_resent_batch_changes_nothing_twice(phone, job, key):
    once = item(job, key, "See you")
    assert forward(phone, once, once) == ["forwarded", "duplicate"]
    assert len(inbound_events()) == 1


def test_unmatched_replies_are_counted_and_dropped(phone, job, key):
    before = count("unmatched")
    assert forward(phone, item(job, key, "STOP", sender="010 999 888")) == ["unmatched"]  # never messaged
    Job.objects.filter(pk=job.pk).update(offered_at=timezone.now() - timedelta(hours=73))
    assert forward(phone, item(job, key, "STOP")) == ["unmatched"]  # too long ago
    assert count("unmatched") == before + 2
    assert not OptOut.objects.exists() and inbound_events() == []


def test_spoofed_replies_are_counted_and_dropped(phone, job, key):
    before = count("spoofed")
    forged = item(job, key, "STOP", signature=base64.b64encode(b"x" * 64).decode())
    other_sim = Sim.objects.exclude(pk=job.sim_id).first() or provider_with_sim(Carrier.SMART).sims.get()
    elsewhere = item(job, key, "STOP", sim_id=other_sim.pk)
    signed_for_other_text = item(job, key, "Hello")
    signed_for_other_text["body"] = "STOP ALL"
    assert forward(phone, forged, elsewhere, signed_for_other_text) == ["spoofed"] * 3
    assert count("spoofed") == before + 3
    assert not OptOut.objects.exists()


def test_a_job_the_phone_never_sent_does_not_match(job, key, api_client_for):
    # Offered, never sent: a reply "to" it could only be invented.
    assert forward(api_client_for(job.provider.user), item(job, key, "STOP")) == ["unmatched"]


def test_bad_input_is_a_400_with_a_stable_code(phone):
    response = phone.post("/api/providers/me/inbound", {"messages": []}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_a_carrier_block_report_rests_the_sim(phone, job, settings):
    settings.PROVIDER_SIM_COOLDOWN_BASE_SECONDS = 600
    response = phone.post(
        f"/api/jobs/{job.pk}/report",
        {"status": "failed", "error_code": "limit_exceeded", "occurred_at": iso()},
        format="json",
    )
    assert response.status_code == 200, response.json()
    sim = Sim.objects.get(pk=job.sim_id)
    assert sim.cooldown_level == 1 and sim.cooldown_until > timezone.now() + timedelta(seconds=590)


def test_an_ordinary_failure_report_does_not(phone, job):
    failure = {"status": "failed", "error_code": "no_service", "occurred_at": iso()}
    phone.post(f"/api/jobs/{job.pk}/report", failure, format="json")
    assert Sim.objects.get(pk=job.sim_id).cooldown_until is None
