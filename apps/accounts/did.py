"""did:key identifiers of Ed25519 keys and their signatures.

A did:key is `did:key:` + multibase base58btc (`z…`) of the multicodec `ed25519-pub` (0xed01) followed by the
32-byte public key. Signatures are Ed25519 over the UTF-8 bytes of the exact challenge message, sent base64 or
base64url encoded. The device key behind a provider's DID later signs delivery reports the same way.
"""

import base64
import binascii
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from multiformats import multibase, multicodec

from apps.accounts.errors import DidMalformed, DidSignatureInvalid

DID_KEY_PREFIX = "did:key:"
# Public keys decoded per process: every signed report of a phone checks against the same DID, and decoding it
# (multibase's base58 with its validation, multicodec) cost more than the Ed25519 check itself. A key object is
# immutable and a DID names one key for good; a malformed DID raises and is not kept.
DID_KEYS_CACHED = 10_000


def did_public_key(did: str) -> Ed25519PublicKey:
    """The Ed25519 public key a did:key names; DidMalformed for anything else."""
    if not isinstance(did, str):
        raise DidMalformed()
    return _did_public_key(did)


@lru_cache(maxsize=DID_KEYS_CACHED)
def _did_public_key(did: str) -> Ed25519PublicKey:
    if not did.startswith(DID_KEY_PREFIX + "z") or len(did) > 200:
        raise DidMalformed()
    try:
        encoded = multibase.decode(did[len(DID_KEY_PREFIX) :])
        codec, raw = multicodec.unwrap(encoded)
    except (ValueError, KeyError):
        raise DidMalformed() from None
    if codec.name != "ed25519-pub" or len(raw) != 32:
        raise DidMalformed(details={"codec": codec.name})
    return Ed25519PublicKey.from_public_bytes(bytes(raw))


def decode_signature(signature: str) -> bytes:
    """base64 or base64url, padded or not."""
    text = (signature or "").strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise DidSignatureInvalid(details={"signature": "not base64"}) from None


def verify_did_signature(*, did: str, message: str, signature: str) -> None:
    """Raise DidSignatureInvalid unless `signature` is the DID key's signature of `message`."""
    public_key = did_public_key(did)
    try:
        public_key.verify(decode_signature(signature), message.encode())
    except InvalidSignature:
        raise DidSignatureInvalid() from None
