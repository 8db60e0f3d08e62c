"""OTP codes for signing in: request (cooldown and rate limits) and verify (attempt counting). How codes are
generated, hashed, worded and sent is `apps.accounts.otp`'s."""

import secrets
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from apps.accounts import otp
from apps.accounts.choices import Language, OtpPurpose
from apps.accounts.errors import OtpExpired, OtpInvalid, OtpLocked, OtpResendTooSoon
from apps.accounts.models import OtpChallenge, User
from apps.accounts.phone import normalize_phone
from apps.accounts.services.denylist import phone_check_allowed
from apps.core.context import client_ip_var
from apps.core.errors import DomainError
from apps.core.ratelimit import rate_limit


@dataclass(frozen=True)
class OtpIssued:
    expires_in: int
    resend_after: int


def otp_request(*, phone: str, purpose: str = OtpPurpose.LOGIN, language: str = Language.KHMER) -> OtpIssued:
    """Send a new code to `phone`. Refused during the resend cooldown and past the per-phone and per-IP limits.

    The text is in the user's preferred language when the phone belongs to a user, otherwise in `language`.
    """
    e164 = normalize_phone(phone).e164
    phone_check_allowed(phone=e164)  # no code, no SMS cost, for a number that may not register again
    cooldown = settings.OTP_RESEND_COOLDOWN_SECONDS
    cooldown_key = f"otp:cooldown:{purpose}:{e164}"
    # cache.add is atomic (Redis SET NX, or the shared file cache's lock): two requests in the same instant cannot
    # both pass. The value is when the cooldown ends, to tell the client how long to wait.
    if not cache.add(cooldown_key, time.time() + cooldown, timeout=cooldown):
        ends_at = cache.get(cooldown_key) or time.time() + cooldown
        raise OtpResendTooSoon(retry_after=max(int(ends_at - time.time()) + 1, 1))
    try:
        rate_limit(group="otp.request.phone", key=e164, rate=settings.OTP_RATE_PER_PHONE)
        rate_limit(group="otp.request.ip", key=client_ip_var.get() or "-", rate=settings.OTP_RATE_PER_IP)
    except DomainError:
        cache.delete(cooldown_key)
        raise

    code = otp.generate_code()
    salt = secrets.token_hex(16)
    now = timezone.now()
    user = User.objects.filter(phone=e164).only("preferred_language").first()
    with transaction.atomic():
        OtpChallenge.objects.filter(
            phone=e164, purpose=purpose, consumed_at__isnull=True, superseded_at__isnull=True
        ).update(superseded_at=now)
        OtpChallenge.objects.create(
            phone=e164,
            purpose=purpose,
            code_hash=otp.hash_code(code, salt),
            salt=salt,
            created_at=now,
            expires_at=now + timedelta(seconds=settings.OTP_TTL_SECONDS),
            request_ip=client_ip_var.get(),
        )
        cache.delete(_unknown_attempts_key(e164, purpose))
        text = otp.otp_text(
            code, language=user.preferred_language if user else language, ttl_minutes=settings.OTP_TTL_SECONDS // 60
        )
        message = otp.OtpMessage(phone=e164, text=text, purpose=purpose)
        # Sent only once the code is stored; the code travels in this closure, never through the broker or a log.
        transaction.on_commit(lambda: otp.get_otp_sender().send(message))
    return OtpIssued(expires_in=settings.OTP_TTL_SECONDS, resend_after=cooldown)


def _unknown_attempts_key(e164: str, purpose: str) -> str:
    return f"otp:unknown-attempts:{purpose}:{e164}"


def otp_verify(*, phone: str, code: str, purpose: str = OtpPurpose.LOGIN) -> OtpChallenge:
    """Check `code` against the phone's current challenge and consume it (a code works once).

    Durable: a wrong try is committed even though an error is raised, and this never runs inside a caller's
    transaction that could roll the count back. A phone with no code behaves like a wrong code, down to the
    attempts left, so responses do not reveal which phones asked for one.
    """
    e164 = normalize_phone(phone).e164
    rate_limit(group="otp.verify.ip", key=client_ip_var.get() or "-", rate=settings.OTP_VERIFY_RATE_PER_IP)
    max_attempts = settings.OTP_MAX_ATTEMPTS
    error: DomainError | None = None
    with transaction.atomic(durable=True):
        challenge = (
            OtpChallenge.objects.select_for_update()
            .filter(phone=e164, purpose=purpose, consumed_at__isnull=True, superseded_at__isnull=True)
            .order_by("-created_at")
            .first()
        )
        if challenge is None:
            otp.hash_code(code, "0" * 32)  # the same work as checking a real code
            key = _unknown_attempts_key(e164, purpose)
            cache.add(key, 0, timeout=settings.OTP_TTL_SECONDS)
            tries = cache.incr(key)
            error = OtpLocked() if tries > max_attempts else _wrong_code(max_attempts - tries)
        elif challenge.expires_at <= timezone.now():
            error = OtpExpired()
        elif challenge.attempts >= max_attempts:
            error = OtpLocked()
        elif not otp.code_matches(str(code), challenge.salt, challenge.code_hash):
            challenge.attempts += 1
            challenge.save(update_fields=["attempts"])
            error = _wrong_code(max_attempts - challenge.attempts)
        else:
            challenge.consumed_at = timezone.now()
            challenge.save(update_fields=["consumed_at"])
    if error is not None:
        raise error
    return challenge


def _wrong_code(attempts_left: int) -> DomainError:
    if attempts_left <= 0:
        return OtpLocked()
    return OtpInvalid(details={"attempts_left": attempts_left})
