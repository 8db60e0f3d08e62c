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
fetches the job as before. Documented in docs/provider-protocol.md §4, §7 and §8."""

import base64
import json
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from apps.core.compiled import CompiledSelect, ids_in
from apps.delivery.api.serializers import job_output
from apps.delivery.push.types import MAX_DATA_BYTES, data_bytes
from apps.messaging.choices import JobStatus
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


# The content of a push batch's jobs for its keyed devices, in one query: only the columns the payload reads.
_CONTENT = CompiledSelect(
    lambda job_ids, provider_ids: (
        jobs_readable(ids_in("provider_id", provider_ids))
        .filter(ids_in("pk", job_ids), status=JobStatus.OFFERED)
        .only(
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
    )
)


def pushes_sealed(pairs: list[tuple[Job, Any]], data: list[dict[str, str]]) -> None:
    """Add `sealed` to the data of each (job, device) push whose device has a seal key and whose job its phone may
    read, where it fits FCM's limit. `data[i]` is pair i's push data, completed in place. One query for all the
    batch's content (none when no device has a key); each body opened once, as the acknowledgement opens it."""
    keyed = [index for index, (_, device) in enumerate(pairs) if device.seal_key]
    if not keyed:
        return
    job_ids = sorted({pairs[index][0].pk for index in keyed})
    provider_ids = sorted({pairs[index][1].provider_id for index in keyed})
    readable = {job.pk: job for job in _CONTENT.run(job_ids, provider_ids)}
    contents: dict[int, bytes] = {}
    for index in keyed:
        job, device = pairs[index]
        readable_job = readable.get(job.pk)
        if readable_job is None or readable_job.provider_id != device.provider_id:
            continue  # not this phone's to read (or no longer offered): the push names the job only
        if job.pk not in contents:
            contents[job.pk] = job_content(readable_job)
        sealed = {**data[index], "sealed": seal(contents[job.pk], seal_key=device.seal_key, job_id=job.pk)}
        if data_bytes(sealed) <= MAX_DATA_BYTES:
            data[index] = sealed
