"""Sealed pushes: a job pushed to a phone that registered a seal key carries the job's content sealed to that key,
through real firebase-admin to the local FCM fake; it opens only with the phone's private key and only as its own job;
unkeyed phones, jobs the phone may not read and payloads too large for FCM get the job id alone."""

import base64
import json
import re
from datetime import timedelta

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.services import client_create, otp_request
from apps.accounts.tests.factories import UserFactory
from apps.delivery.push.types import data_bytes
from apps.delivery.sealed_push import SEALED_ENTRY_BYTES, seal, sealed_length
from apps.delivery.services import jobs_ack_timeouts, jobs_push
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job, Message
from apps.messaging.sealing import is_sealed
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.models import Device
from apps.providers.services import device_register
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db

# What the document promises, written out here rather than imported: the test holds the code to it.
SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)


def info(job_id: int) -> bytes:
    return f"peerpower job v1 {job_id}".encode()


def public_text(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def open_sealed(sealed: str, key: X25519PrivateKey, job_id: int) -> dict:
    return json.loads(SUITE.decrypt(base64.b64decode(sealed), key, info=info(job_id)))


def keyed(provider) -> X25519PrivateKey:
    """Register a seal key for the provider's phone, as the app does (its token again, with the key)."""
    key = X25519PrivateKey.generate()
    device = Device.objects.get(provider=provider)
    device_register(
        provider=provider,
        actor=provider.user,
        fcm_token=device.fcm_token,
        platform=device.platform,
        app_version=device.app_version,
        seal_key=public_text(key),
    )
    return key


def offered(body: str = "Your code is 1234", to: str = "012 345 678", **extra) -> Job:
    organization = client_create(user=UserFactory(), name="Acme")
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to=to, body=body, **extra))
    assert dispatch(message) == "assigned"
    return Job.objects.get(message=message)


def pushed(fcm_fake, job_ids: list[int]) -> dict[str, dict]:
    """Push the jobs; what the FCM fake received, by token."""
    fcm_fake.reset()
    assert set(jobs_push(job_ids=job_ids).values()) == {"sent"}
    return {received.token: received.data for received in fcm_fake.accepted}


def test_a_keyed_phones_push_opens_to_exactly_what_the_acknowledgement_answers(fcm_fake, api_client_for):
    provider = provider_with_sim(Carrier.CELLCARD)
    key = keyed(provider)
    job = offered(body="លេខកូដរបស់អ្នកគឺ 482913")
    [data] = pushed(fcm_fake, [job.pk]).values()
    assert sorted(data) == ["job", "kind", "sealed"] and data["job"] == str(job.pk)
    assert "482913" not in json.dumps(data) and "85512345678" not in json.dumps(data)  # FCM sees ciphertext only

    content = open_sealed(data["sealed"], key, job.pk)
    answer = api_client_for(provider.user).post(f"/api/jobs/{job.pk}/ack").json()
    assert content == {name: value for name, value in answer.items() if name != "status"}
    assert content["body"] == "លេខកូដរបស់អ្នកគឺ 482913" and content["to"] == "+85512345678"


def test_the_payload_does_not_open_as_another_job_or_with_another_key(fcm_fake):
    provider = provider_with_sim(Carrier.CELLCARD)
    key = keyed(provider)
    job = offered()
    [data] = pushed(fcm_fake, [job.pk]).values()
    with pytest.raises(InvalidTag):
        open_sealed(data["sealed"], key, job.pk + 1)  # moved to another job: refused
    with pytest.raises(InvalidTag):
        open_sealed(data["sealed"], X25519PrivateKey.generate(), job.pk)
    assert open_sealed(data["sealed"], key, job.pk)["id"] == job.pk


def test_an_unkeyed_phones_push_is_unchanged(fcm_fake):
    provider_with_sim(Carrier.CELLCARD)
    job = offered()
    [data] = pushed(fcm_fake, [job.pk]).values()
    assert data == {"job": str(job.pk), "kind": "job"}


def test_a_batch_seals_each_job_to_its_own_phone_in_one_query(fcm_fake, settings, django_assert_num_queries):
    """Two phones with keys, one without, in one push batch: each keyed phone's payload opens with its key only; the
    batch reads its jobs, their devices and the content in one query."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 1  # one job each
    first, second = provider_with_sim(Carrier.CELLCARD), provider_with_sim(Carrier.CELLCARD)
    bare = provider_with_sim(Carrier.CELLCARD)
    keys = {first.pk: keyed(first), second.pk: keyed(second)}
    jobs = [offered(to=f"012 345 67{index}") for index in range(3)]
    assert {job.provider_id for job in jobs} == {first.pk, second.pk, bare.pk}
    # The jobs with their devices and content, the push record: two statements.
    with django_assert_num_queries(2):
        jobs_push(job_ids=[job.pk for job in jobs])
    by_token = {received.token: received.data for received in fcm_fake.accepted}
    tokens = dict(Device.objects.values_list("provider_id", "fcm_token"))
    for job in jobs:
        data = by_token[tokens[job.provider_id]]
        assert data["job"] == str(job.pk)
        if job.provider_id == bare.pk:
            assert "sealed" not in data
            continue
        assert open_sealed(data["sealed"], keys[job.provider_id], job.pk)["trace_token"] == job.trace_token
        other = next(key for provider_id, key in keys.items() if provider_id != job.provider_id)
        with pytest.raises(InvalidTag):
            open_sealed(data["sealed"], other, job.pk)


def second_phone(provider) -> tuple[str, X25519PrivateKey]:
    """Register another keyed phone for the provider, as a second install of the app does: its token and key."""
    key = X25519PrivateKey.generate()
    token = f"second-phone-{provider.pk}"
    device_register(
        provider=provider,
        actor=provider.user,
        fcm_token=token,
        platform="android",
        app_version="1.0",
        seal_key=public_text(key),
    )
    return token, key


def test_a_push_batch_reads_the_database_once(fcm_fake, settings):
    """One batch: a provider with two keyed phones, one with an unkeyed phone, one whose phone is gone, a job whose
    lease is over and one no longer offered. One SELECT before the pushes (the jobs still offered, their devices and
    the content) and one UPDATE after; each of the two phones gets the content sealed to its own key."""
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 1  # one job each
    two_phones, bare, phoneless, lapsed, taken = (provider_with_sim(Carrier.CELLCARD) for _ in range(5))
    keys = {two_phones.pk: keyed(two_phones), lapsed.pk: keyed(lapsed), taken.pk: keyed(taken)}
    second_token, second_key = second_phone(two_phones)
    jobs = {job.provider_id: job for job in (offered(to=f"012 345 67{index}") for index in range(5))}
    assert set(jobs) == {two_phones.pk, bare.pk, phoneless.pk, lapsed.pk, taken.pk}
    Device.objects.filter(provider=phoneless).delete()
    Job.objects.filter(pk=jobs[lapsed.pk].pk).update(deadline=timezone.now() - timedelta(seconds=1))
    Job.objects.filter(pk=jobs[taken.pk].pk).update(status=JobStatus.ACCEPTED)
    fcm_fake.reset()

    with CaptureQueriesContext(connection) as queries:
        outcomes = jobs_push(job_ids=[job.pk for job in jobs.values()])

    statements = [query["sql"].split()[0].upper() for query in queries.captured_queries]
    assert statements == ["SELECT", "UPDATE"]
    assert outcomes == {
        jobs[two_phones.pk].pk: "sent",
        jobs[bare.pk].pk: "sent",
        jobs[phoneless.pk].pk: "skipped",
        jobs[lapsed.pk].pk: "skipped",
        jobs[taken.pk].pk: "skipped",
    }
    by_token = {received.token: received.data for received in fcm_fake.accepted}
    first_token = Device.objects.exclude(fcm_token=second_token).get(provider=two_phones).fcm_token
    assert set(by_token) == {first_token, second_token, Device.objects.get(provider=bare).fcm_token}
    job = jobs[two_phones.pk]
    for token, key in ((first_token, keys[two_phones.pk]), (second_token, second_key)):
        assert open_sealed(by_token[token]["sealed"], key, job.pk)["trace_token"] == job.trace_token
    with pytest.raises(InvalidTag):
        open_sealed(by_token[second_token]["sealed"], keys[two_phones.pk], job.pk)
    assert by_token[Device.objects.get(provider=bare).fcm_token] == {"job": str(jobs[bare.pk].pk), "kind": "job"}


def test_the_size_is_known_before_sealing():
    """The size check runs before the seal, without encoding the sealed data: what it counts is what the data
    encodes to, for contents around FCM's limit."""
    key = public_text(X25519PrivateKey.generate())
    for length in (0, 1, 2, 3, 100, 3000, 3018, 3019, 3020, 3021):
        data = {"job": "123456789", "kind": "job"}
        sealed = seal(b"x" * length, seal_key=key, job_id=123456789)
        assert len(sealed) == sealed_length(length)
        assert data_bytes({**data, "sealed": sealed}) == data_bytes(data) + SEALED_ENTRY_BYTES + sealed_length(length)


def test_a_job_its_phone_may_no_longer_read_gets_no_content(fcm_fake):
    """A job no longer offered (acknowledged, ended or given away before the push) is not pushed at all, so no
    content leaves for it; the phone another provider's job was offered to is never sent it."""
    provider, other = provider_with_sim(Carrier.CELLCARD), provider_with_sim(Carrier.SMART)
    keyed(provider), keyed(other)
    job = offered()
    assert job.provider_id == provider.pk
    Job.objects.filter(pk=job.pk).update(status=JobStatus.ACCEPTED)
    assert jobs_push(job_ids=[job.pk]) == {job.pk: "skipped"}
    assert fcm_fake.accepted == []


def test_a_sign_in_code_is_sealed_to_the_trusted_phone_opened_from_its_sealed_body(
    fcm_fake, settings, django_capture_on_commit_callbacks
):
    """The trusted route's body is encrypted at rest: the push opens it, as the acknowledgement does, and seals the
    plain code to the trusted phone only."""
    settings.OTP_SENDER = "apps.messaging.otp.NetworkOtpSender"
    settings.OTP_FALLBACK_SENDER = ""
    provider_with_sim(Carrier.SMART)  # an ordinary phone on the recipient's carrier: never offered the code
    trusted = provider_with_sim(Carrier.METFONE, trusted=True)
    key = keyed(trusted)
    with django_capture_on_commit_callbacks(execute=True):
        otp_request(phone="010 345 678")
    message = Message.objects.get()
    assert is_sealed(message.body) and dispatch(message) == "assigned"
    job = Job.objects.get()
    pushes = pushed(fcm_fake, [job.pk])
    assert list(pushes) == [Device.objects.get(provider=trusted).fcm_token]
    [data] = pushes.values()
    body = open_sealed(data["sealed"], key, job.pk)["body"]
    assert re.search(r"\b\d{6}\b", body) and not is_sealed(body)


def test_a_payload_too_large_for_fcm_is_left_out(fcm_fake, settings):
    """FCM takes 4,096 bytes of data: 20 segments of Khmer text (3 bytes a character) sealed are more, so that push
    names the job only and the phone fetches it."""
    settings.MESSAGE_MAX_SEGMENTS = 20
    provider = provider_with_sim(Carrier.CELLCARD)
    keyed(provider)
    job = offered(body="ក" * 1300)
    [data] = pushed(fcm_fake, [job.pk]).values()
    assert data == {"job": str(job.pk), "kind": "job"}
    small = offered(body="ក" * 600, to="012 345 679")
    [data] = pushed(fcm_fake, [small.pk]).values()
    assert "sealed" in data


def test_a_repush_carries_the_sealed_content_too(fcm_fake):
    provider = provider_with_sim(Carrier.CELLCARD)
    key = keyed(provider)
    job = offered()
    pushed(fcm_fake, [job.pk])
    Job.objects.filter(pk=job.pk).update(
        offered_at=timezone.now() - timedelta(minutes=1), last_pushed_at=timezone.now() - timedelta(minutes=1)
    )
    fcm_fake.reset()
    assert jobs_ack_timeouts()["repushed"] == 1
    [received] = fcm_fake.accepted
    assert open_sealed(received.data["sealed"], key, job.pk)["id"] == job.pk
