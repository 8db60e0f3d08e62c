"""Sealed pushes: a job's push carries its content (what the acknowledgement answers) sealed to the phone's own key,
so a phone that sends at once needs neither an acknowledgement nor a read — its report acknowledges the job
(`ack_folded`) — and FCM, which carries the push, sees only ciphertext.

The seal is HPKE (RFC 9180) in base mode, suite DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20-Poly1305 (Tink's
DHKEM_X25519_HKDF_SHA256_HKDF_SHA256_CHACHA20_POLY1305), to the X25519 key the device registered
(apps.providers.seal_keys). The HPKE `info` is `peerpower job v1 {job id}` and the AAD empty: Tink's
`HybridDecrypt.decrypt(ciphertext, contextInfo)` takes exactly this (its context info is HPKE's info, its AAD empty),
and the job id in it binds the payload to its job — opened as another job's, it fails. `sealed` is the standard
base64 of `enc || ciphertext` (32 + the JSON's length + 16 bytes), Tink's RAW output. The JSON is compact UTF-8 with
the acknowledgement's fields less `status`: id, message_id, to, body, encoding, segments, deadline, trace_token.

A job gets a payload only where the phone may read it (`jobs_readable`: the job's own provider's devices, the rule
`GET /api/jobs/{id}` applies), and only while it fits FCM's 4,096 bytes: a longer one is left out and the phone
fetches the job as before. The push batch reads the content with its jobs and devices, in its one query
(apps.delivery.services `_PUSH_ROWS`, with `readable_by_device` for the rule). Documented in
docs/provider-protocol.md §4, §7 and §8."""

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey
from django.db.models import Exists, OuterRef, Q

from apps.delivery.api.serializers import job_output
from apps.delivery.push.types import MAX_DATA_BYTES, data_bytes
from apps.messaging.models import Job
from apps.messaging.selectors import jobs_readable

SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
INFO_PREFIX = "peerpower job v1 "
# The acknowledgement's answer less `status` (an offer's would read `offered`; the phone's report moves it on).
SEALED_FIELDS = ("id", "message_id", "to", "body", "encoding", "segments", "deadline", "trace_token")


def seal_info(job_id: int) -> bytes:
    """HPKE's info for a job's payload (Tink's context info): what binds the payload to its job."""
    return f"{INFO_PREFIX}{job_id}".encode()


@lru_cache(maxsize=4096)
def _public_key(seal_key: str) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(base64.b64decode(seal_key))


def job_content(job: Job) -> bytes:
    """The JSON a job's push seals: the acknowledgement's answer (`job_output`) less its status."""
    output = job_output(job)
    return json.dumps(
        {name: output[name] for name in SEALED_FIELDS}, ensure_ascii=False, separators=(",", ":")
    ).encode()


def seal(content: bytes, *, seal_key: str, job_id: int) -> str:
    """`content` sealed to the device key `seal_key` (stored base64) for job `job_id`: base64 of `enc || ciphertext`."""
    return base64.b64encode(SUITE.encrypt(content, _public_key(seal_key), info=seal_info(job_id))).decode("ascii")


# The columns of a job and its message that its payload reads (`job_content`): all a push batch's read loads of them.
CONTENT_FIELDS = (
    "pk",
    "provider_id",
    "status",
    "message_id",
    "deadline",
    "trace_token",
    "message__to",
    "message__body",
    "message__encoding",
    "message__segments",
)


def readable_by_device(device_provider: str) -> Exists:
    """For a queryset of jobs, one row per job and device, whose annotation `device_provider` is the device's provider:
    whether that phone may read the row's job — `jobs_readable` of the device's provider, the rule `GET /api/jobs/{id}`
    applies. A push carries a job's content only where this is true."""
    return Exists(jobs_readable(Q(provider_id=OuterRef(device_provider))).filter(pk=OuterRef("pk")))


# What `"sealed": …` adds to a push's data as `data_bytes` counts it, beyond the value's characters: its key, quotes
# and separator (the value is base64: ASCII, none of it escaped by JSON).
SEALED_ENTRY_BYTES = data_bytes({"job": "", "sealed": ""}) - data_bytes({"job": ""})


def sealed_length(content_bytes: int) -> int:
    """The length of `seal`'s answer for content of `content_bytes` bytes: base64 of the 32-byte encapsulated key,
    the ciphertext and its 16-byte tag."""
    return 4 * -(-(32 + content_bytes + 16) // 3)


def pushes_sealed(pushes: list[tuple[Job, Any, bool]], data: list[dict[str, str]]) -> None:
    """Add `sealed` to the data of each (job, device, readable) push whose device has a seal key and whose job its
    phone may read (`readable`: `readable_by_device`), where it fits FCM's limit. `data[i]` is push i's data,
    completed in place. Reads nothing: the job comes with its message's columns (CONTENT_FIELDS). Each body opened
    once, as the acknowledgement opens it; the size is known before sealing (`sealed_length`), so a payload too large
    is never sealed and the data is encoded once, by the request's own check."""
    contents: dict[int, bytes] = {}
    for index, (job, device, readable) in enumerate(pushes):
        if not device.seal_key or not readable:
            continue  # an unkeyed phone, or not this phone's to read: the push names the job only
        content = contents.get(job.pk)
        if content is None:
            content = contents[job.pk] = job_content(job)
        if data_bytes(data[index]) + SEALED_ENTRY_BYTES + sealed_length(len(content)) > MAX_DATA_BYTES:
            continue  # too large for FCM: the phone fetches the job
        data[index] = {**data[index], "sealed": seal(content, seal_key=device.seal_key, job_id=job.pk)}
