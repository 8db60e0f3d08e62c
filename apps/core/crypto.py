"""Encryption at rest for personal data in the database, and blind indexes to find such data by equality.

A value is stored as `pp1.<key id>.<base64url(salt | nonce | ciphertext+tag)>`: AES-256-GCM under a subkey derived
from the named key and a random 16-byte salt (HMAC-SHA256(key, salt)), with the column's name as associated data
so a ciphertext copied into another column does not decrypt. Deriving a subkey per value lifts GCM's limit of about
2^32 random nonces per key (a few months of national traffic) out of reach; it costs ~10 µs per value. Rows written
together (a bulk request's) share one subkey, each value with a nonce of its own (`encrypt_many`).

Keys come from the FIELD_ENCRYPTION_KEYS setting (`id=base64 of 32 bytes`, comma-separated): the first encrypts,
every one decrypts, so a new key is rolled out by putting it first while the old ones stay listed, then
`manage.py encryption_rotate` re-encrypts in batches, and only then is the old key removed. The key id is in each
value, so old and new values are read side by side: no downtime.

A blind index is HMAC-SHA256 under BLIND_INDEX_KEY (truncated to 128 bits, hex), of the normalised value: equal
values give equal indexes, and nobody without the key can go from an index back to a phone number (the
Cambodian mobile number space is small enough to enumerate, so an unkeyed hash would hide nothing).
"""

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Sequence
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = "pp1"
PREFIX = VERSION + "."
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
BLIND_INDEX_CHARS = 32  # 128 bits of HMAC-SHA256, hex


class DecryptionFailed(Exception):
    """A stored value did not decrypt: unknown key id, wrong column, or altered bytes."""


def parse_keys(entries: list[str] | tuple[str, ...]) -> dict[str, bytes]:
    """`["id=base64", ...]` → {id: key}, in order (the first encrypts). Raises ImproperlyConfigured on a bad entry."""
    keys: dict[str, bytes] = {}
    for entry in entries:
        key_id, _, encoded = entry.strip().partition("=")
        key_id = key_id.strip()
        if not key_id or not key_id.isalnum() or key_id in keys:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: {key_id!r} is not a unique alphanumeric key id.")
        try:
            key = base64.b64decode(encoded.strip() + "=" * (-len(encoded.strip()) % 4), validate=False)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(f"FIELD_ENCRYPTION_KEYS: key {key_id!r} must be {KEY_BYTES} bytes in base64.")
        keys[key_id] = key
    return keys


@lru_cache(maxsize=4)
def _keys(entries: tuple[str, ...]) -> dict[str, bytes]:
    keys = parse_keys(entries)
    if not keys:
        raise ImproperlyConfigured("Set FIELD_ENCRYPTION_KEYS: personal data is encrypted at rest.")
    return keys


def keys() -> dict[str, bytes]:
    """The configured keys by id, the one that encrypts first (cached per settings value, so tests can swap them)."""
    return _keys(tuple(settings.FIELD_ENCRYPTION_KEYS))


def current_key_id() -> str:
    return next(iter(keys()))


@lru_cache(maxsize=16)
def _subkey_hmac(key: bytes) -> "hmac.HMAC":
    # HMAC(key, "pp-field-v1" …) with the key already absorbed: each value copies it and adds only its salt, which
    # costs about a third less than keying a new HMAC per value. Same subkey as before.
    return hmac.new(key, b"pp-field-v1", hashlib.sha256)


def _subkey(key: bytes, salt: bytes) -> AESGCM:
    mac = _subkey_hmac(key).copy()
    mac.update(salt)
    return AESGCM(mac.digest())


def encrypt(plaintext: str, *, context: str) -> str:
    """`plaintext` encrypted under the current key, bound to `context` (the column)."""
    key_id, key = next(iter(keys().items()))
    random = os.urandom(SALT_BYTES + NONCE_BYTES)  # one call for both
    salt, nonce = random[:SALT_BYTES], random[SALT_BYTES:]
    sealed = _subkey(key, salt).encrypt(nonce, plaintext.encode(), context.encode())
    return f"{PREFIX}{key_id}.{base64.urlsafe_b64encode(salt + nonce + sealed).decode()}"


# Values one subkey encrypts in `encrypt_many`: far below GCM's 2^32 nonces per key, and no two of them share a nonce.
MANY_PER_SUBKEY = 1 << 16


def encrypt_many(plaintexts: Sequence[str], *, context: str) -> list[str]:
    """Each of `plaintexts` encrypted under the current key and bound to `context`, as `encrypt` would, in the same
    format (`decrypt` reads them alike) — for a batch of rows (a bulk request's thousand bodies and numbers).

    The subkey is derived once for the batch (one fresh random salt, up to MANY_PER_SUBKEY values), not once per
    value: deriving it (an HMAC and an AES key schedule, ~2.5 µs) cost three times the encryption itself. Every
    value still has its own nonce: the batch's random 96-bit start plus its position, so no two values under one
    subkey ever share one, which is all AES-GCM asks. Equal plaintexts give different ciphertexts, as with
    `encrypt`. What a reader of the table can tell is only that rows with the same salt were written together,
    which their creation times and owner say already."""
    key_id, key = next(iter(keys().items()))
    prefix, associated = f"{PREFIX}{key_id}.", context.encode()
    encrypted: list[str] = []
    for start in range(0, len(plaintexts), MANY_PER_SUBKEY):
        chunk = plaintexts[start : start + MANY_PER_SUBKEY]
        random = os.urandom(SALT_BYTES + NONCE_BYTES)
        salt, first = random[:SALT_BYTES], int.from_bytes(random[SALT_BYTES:], "big")
        aead = _subkey(key, salt)
        for position, plaintext in enumerate(chunk):
            nonce = ((first + position) % _NONCES).to_bytes(NONCE_BYTES, "big")
            sealed = aead.encrypt(nonce, plaintext.encode(), associated)
            encrypted.append(prefix + base64.urlsafe_b64encode(salt + nonce + sealed).decode())
    return encrypted


_NONCES = 1 << (8 * NONCE_BYTES)


def is_encrypted(value: object) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def key_id_of(token: str) -> str:
    return token[len(PREFIX) :].split(".", 1)[0]


def decrypt(token: str, *, context: str) -> str:
    """The plaintext of a stored value; DecryptionFailed if the key is unknown or the value was altered or moved."""
    key_id, _, encoded = token[len(PREFIX) :].partition(".")
    key = keys().get(key_id)
    if key is None:
        raise DecryptionFailed(f"No key {key_id!r} in FIELD_ENCRYPTION_KEYS (needed for a {context} value).")
    try:
        raw = base64.urlsafe_b64decode(encoded)
        salt, nonce = raw[:SALT_BYTES], raw[SALT_BYTES : SALT_BYTES + NONCE_BYTES]
        sealed = raw[SALT_BYTES + NONCE_BYTES :]
        return _subkey(key, salt).decrypt(nonce, sealed, context.encode()).decode()
    except (InvalidTag, ValueError, binascii.Error) as error:
        raise DecryptionFailed(f"A {context} value does not decrypt with key {key_id!r}.") from error


@lru_cache(maxsize=4)
def _blind_index_hmac(value: str) -> "hmac.HMAC":
    """HMAC-SHA256 keyed with BLIND_INDEX_KEY, copied for each value (cheaper than keying one per value)."""
    if not value:
        raise ImproperlyConfigured("Set BLIND_INDEX_KEY: encrypted phone numbers are looked up by a keyed hash.")
    return hmac.new(value.encode(), digestmod=hashlib.sha256)


def blind_index(value: str) -> str:
    """The keyed hash equal values share; "" for an empty value. Normalise before (E.164 for phone numbers)."""
    if not value:
        return ""
    mac = _blind_index_hmac(settings.BLIND_INDEX_KEY).copy()
    mac.update(value.encode())
    return mac.hexdigest()[:BLIND_INDEX_CHARS]
