"""Webhook signatures: `PeerPower-Signature: t=<unix time>,v1=<hex HMAC-SHA256>[,v1=...]`.

The HMAC is keyed with the whole secret string (`whsec_...`, UTF-8) over the timestamp, a dot and the raw request
body. A request is genuine when exactly one `t` is given, it is within `tolerance` seconds of now (older ones are
replays), and any `v1` matches (two are sent while a rotated secret is in its grace period). The same rules as the
snippets of the webhooks guide (docs/webhooks.md).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time

from peerpower_client.errors import SignatureVerificationError
from peerpower_client.models import WebhookEvent, parse_time

SIGNATURE_HEADER = "PeerPower-Signature"
DEFAULT_TOLERANCE_SECONDS = 300


def verify_signature(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether `header` (the `PeerPower-Signature` value) signs `payload`, the body exactly as received."""
    items = [part.split("=", 1) for part in (header or "").split(",") if "=" in part]
    timestamps = [value for key, value in items if key == "t"]
    if len(timestamps) != 1 or not timestamps[0].isascii() or not timestamps[0].isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamps[0])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + payload, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, value) for key, value in items if key == "v1")


def construct_event(
    payload: bytes,
    header: str,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> WebhookEvent:
    """The event a webhook request carries, once its signature verifies; SignatureVerificationError otherwise."""
    if not verify_signature(payload, header, secret, tolerance=tolerance, now=now):
        raise SignatureVerificationError("The PeerPower-Signature header does not match this body and secret.")
    body = json.loads(payload)
    return WebhookEvent(
        id=body["id"], type=body["type"], created_at=parse_time(body.get("created_at")), data=body.get("data") or {}
    )
