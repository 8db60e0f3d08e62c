"""A device's seal key: the HPKE public key (X25519) that jobs pushed to the phone are sealed to
(apps.delivery.sealed_push). Checked when the phone registers it, so a push never meets a key it cannot use."""

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from apps.providers.errors import SealKeyInvalid

SEAL_KEY_BYTES = 32


def seal_key_canonical(text: str) -> str:
    """The key as stored (standard base64, padded) from what the phone sent: standard or URL-safe base64 of 32 bytes,
    padded or not. Blank stays blank (no key). SealKeyInvalid for anything else, and for a key of low order (whose
    shared secret would be all zeros: HPKE refuses to seal to it)."""
    if text == "":
        return ""
    cleaned = text.strip().replace("-", "+").replace("_", "/").rstrip("=")
    try:
        raw = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise SealKeyInvalid(details={"reason": "not_base64"}) from None
    if len(raw) != SEAL_KEY_BYTES:
        raise SealKeyInvalid(details={"reason": "length", "bytes": len(raw), "expected": SEAL_KEY_BYTES})
    if not _usable(raw):
        raise SealKeyInvalid(details={"reason": "low_order"})
    return base64.b64encode(raw).decode("ascii")


def _usable(raw: bytes) -> bool:
    """Whether an X25519 exchange with the key gives a secret other than zeros (RFC 7748 §6.1)."""
    try:
        X25519PrivateKey.generate().exchange(X25519PublicKey.from_public_bytes(raw))
    except ValueError:
        return False
    return True
