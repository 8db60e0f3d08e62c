"""Stripe-style signatures: `PeerPower-Signature: t=<unix time>,v1=<hex HMAC-SHA256>`.

The HMAC key is the whole secret string (`whsec_…`, UTF-8); the signed bytes are the timestamp, a dot and the raw
request body: `f"{t}.".encode() + body`. During a secret's rotation grace period the header carries one `v1` per
valid secret, the current one first; a receiver accepts the request if any of them matches. docs/webhooks.md shows how
receivers verify (constant-time comparison, and timestamps older than five minutes refused against replays).
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix that makes our secrets recognisable, not a secret
SIGNATURE_HEADER = "PeerPower-Signature"
EVENT_ID_HEADER = "PeerPower-Event-Id"
EVENT_TYPE_HEADER = "PeerPower-Event-Type"


def secret_generate() -> str:
    """A new signing secret: 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(*, secrets: list[str], timestamp: int, body: bytes) -> str:
    """The `PeerPower-Signature` value for `body` sent at `timestamp`, signed with each of `secrets`."""
    parts = [f"t={timestamp}"] + [f"v1={signature(secret=s, timestamp=timestamp, body=body)}" for s in secrets]
    return ",".join(parts)
