"""The deny-list of erased banned accounts' phone numbers, kept only as a keyed hash (see ErasedBannedNumber)."""

import hashlib
import hmac

from django.conf import settings

from apps.accounts.errors import PhoneNotAllowed
from apps.accounts.models import ErasedBannedNumber


def phone_hash(e164: str) -> str:
    """HMAC-SHA256 of the number with `PRIVACY_HASH_KEY`: without the key, the list cannot be reversed."""
    return hmac.new(settings.PRIVACY_HASH_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()


def phone_deny(*, phone: str) -> None:
    """Put a banned account's number on the deny-list, before its erasure removes the number."""
    ErasedBannedNumber.objects.get_or_create(phone_hash=phone_hash(phone))


def phone_check_allowed(*, phone: str) -> None:
    """Refuse a number on the deny-list (`phone_not_allowed`): an erased banned account cannot register again."""
    if ErasedBannedNumber.objects.filter(phone_hash=phone_hash(phone)).exists():
        raise PhoneNotAllowed()
