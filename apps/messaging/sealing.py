"""Sealed message bodies: sign-in codes and `sensitive` messages are kept encrypted at rest.

A copy of the database (a backup, a replica, a staff screen) must not hand out codes that sign people in. The body
is encrypted with Fernet (AES-128-CBC + HMAC-SHA256, from `cryptography`) under MESSAGE_SEAL_KEY (or a key derived
from SECRET_KEY), and only the phone the job is leased to reads it back (`Message.text`). Staff screens show it
masked. A sealed body starts with `SEALED_PREFIX`, so old plain rows keep reading as they are.
"""

import base64
import hashlib
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

SEALED_PREFIX = "sealed:v1:"


@cache
def _fernet(secret: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(f"peerpower-seal:{secret}".encode()).digest()))


def _key() -> Fernet:
    return _fernet(settings.MESSAGE_SEAL_KEY or settings.SECRET_KEY)


def seal(text: str) -> str:
    return SEALED_PREFIX + _key().encrypt(text.encode()).decode("ascii")


def is_sealed(body: str) -> bool:
    return body.startswith(SEALED_PREFIX)


def unseal(body: str) -> str:
    """The plain text of a body, sealed or not. A body sealed under another key reads as empty (and is logged by
    the caller's failure to send), never as the ciphertext."""
    if not is_sealed(body):
        return body
    try:
        return _key().decrypt(body.removeprefix(SEALED_PREFIX).encode("ascii")).decode()
    except InvalidToken:
        return ""


def masked(body: str) -> str:
    """What staff see of a body: sealed ones as a placeholder."""
    return "•••••• (sealed)" if is_sealed(body) else body
