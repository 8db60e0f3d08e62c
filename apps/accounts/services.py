"""Identity services: OTP, sessions, profile, DID and wallet binding, client organisations and API keys.

Every state change runs in its own transaction and writes its audit entry there. Where a refusal must still leave
a trace (a wrong OTP counts against the code; a reused refresh token signs the device out), the trace is committed
first and the error raised after the transaction.
"""

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone
from eth_utils import is_address, to_checksum_address
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts import otp
from apps.accounts.choices import ChallengeKind, ClientRole, Language, OtpPurpose
from apps.accounts.did import did_public_key, verify_did_signature
from apps.accounts.errors import (
    ChallengeInvalid,
    DidAlreadyBound,
    DidTaken,
    OtpExpired,
    OtpInvalid,
    OtpLocked,
    OtpResendTooSoon,
    SessionRevoked,
    TokenInvalid,
    WalletChainMismatch,
    WalletDomainMismatch,
    WalletMessageExpired,
    WalletMessageMalformed,
    WalletMessageReused,
    WalletNonceInvalid,
    WalletNotBound,
    WalletSignatureInvalid,
    WalletTaken,
)
from apps.accounts.models import (
    ApiKey,
    ClientMembership,
    ClientOrganization,
    DeviceSession,
    IdentityChallenge,
    OtpChallenge,
    User,
)
from apps.accounts.phone import normalize_phone
from apps.accounts.siwe import build_message, parse_message, recover_signer
from apps.audit.services import audit_record
from apps.core.context import client_ip_var
from apps.core.errors import DomainError, PermissionDenied
from apps.core.ratelimit import rate_limit

# ---------------------------------------------------------------------------------------------------------------------
# OTP


@dataclass(frozen=True)
class OtpIssued:
    expires_in: int
    resend_after: int


def otp_request(*, phone: str, purpose: str = OtpPurpose.LOGIN, language: str = Language.KHMER) -> OtpIssued:
    """Send a new code to `phone`. Refused during the resend cooldown and past the per-phone and per-IP limits.

    The text is in the user's preferred language when the phone belongs to a user, otherwise in `language`.
    """
    e164 = normalize_phone(phone).e164
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


# ---------------------------------------------------------------------------------------------------------------------
# Sessions


@dataclass(frozen=True)
class SessionTokens:
    session: DeviceSession
    access: str
    refresh: str


def otp_login(*, phone: str, code: str, device_name: str = "", user_agent: str = "") -> SessionTokens:
    """Verify a login code and sign the phone in; the first successful verification creates the user."""
    challenge = otp_verify(phone=phone, code=code, purpose=OtpPurpose.LOGIN)
    with transaction.atomic():
        user = User.objects.filter(phone=challenge.phone).first()
        if user is None:
            user = User.objects.create_user(challenge.phone)
            audit_record(actor=user, action="user.created", target=user, after={"phone": user.phone})
        if not user.is_active:
            raise PermissionDenied(code="account_disabled")
        return session_start(user=user, device_name=device_name, user_agent=user_agent)


def session_start(*, user: User, device_name: str = "", user_agent: str = "") -> SessionTokens:
    """Open a session for a device and issue its first token pair."""
    with transaction.atomic():
        session = DeviceSession.objects.create(
            user=user, name=device_name[:100], ip=client_ip_var.get(), user_agent=user_agent[:200]
        )
        tokens = _issue_tokens(session)
        audit_record(actor=user, action="session.created", target=session, after={"name": session.name})
    _mark_touched(session)  # just used: no need to record it again on the first request
    return tokens


def _issue_tokens(session: DeviceSession) -> SessionTokens:
    refresh = RefreshToken.for_user(session.user)
    refresh["sid"] = session.pk
    session.refresh_jti = refresh["jti"]
    session.save(update_fields=["refresh_jti", "last_used_at"])
    # The access token copies the custom `sid` claim, so every request can be checked against the session.
    return SessionTokens(session=session, access=str(refresh.access_token), refresh=str(refresh))


def _decode_refresh(raw_refresh: str) -> dict:
    """The verified claims of a refresh token (signature and expiry checked), or TokenInvalid."""
    try:
        claims = token_backend.decode(raw_refresh or "", verify=True)
    except TokenBackendError:
        raise TokenInvalid() from None
    if claims.get("token_type") != "refresh" or "sid" not in claims or "jti" not in claims:
        raise TokenInvalid()
    return claims


def session_refresh(*, raw_refresh: str) -> SessionTokens:
    """Rotate a refresh token. Only the latest token of a session works; an older one coming back means a copy
    exists, so the session is revoked (refresh-token reuse detection)."""
    claims = _decode_refresh(raw_refresh)
    reused = False
    with transaction.atomic():
        session = DeviceSession.objects.select_for_update().select_related("user").filter(pk=claims["sid"]).first()
        if session is None or session.revoked_at is not None or not session.user.is_active:
            raise SessionRevoked()
        if claims["jti"] != session.refresh_jti:
            _revoke(session, actor=None, reason="refresh_token_reused")
            reused = True
        else:
            _blacklist(claims["jti"])
            session.last_used_at = timezone.now()
            tokens = _issue_tokens(session)
    if reused:
        raise SessionRevoked(details={"reason": "refresh_token_reused"})
    return tokens


def session_logout(*, raw_refresh: str) -> None:
    """Sign out the device that holds this refresh token."""
    claims = _decode_refresh(raw_refresh)
    with transaction.atomic():
        session = DeviceSession.objects.select_for_update().select_related("user").filter(pk=claims["sid"]).first()
        if session is None or claims["jti"] != session.refresh_jti:
            raise TokenInvalid()
        if session.revoked_at is None:
            _revoke(session, actor=session.user, reason="logout")


def session_revoke(*, session: DeviceSession, actor: User | None) -> None:
    """Sign a device out: its refresh token stops working, and so do its access tokens (checked per request)."""
    with transaction.atomic():
        session = DeviceSession.objects.select_for_update().get(pk=session.pk)
        if session.revoked_at is None:
            _revoke(session, actor=actor, reason="revoked")


def session_revoke_all(*, user: User, actor: User | None) -> int:
    """Sign out every device of `user`; returns how many sessions were open."""
    with transaction.atomic():
        sessions = list(DeviceSession.objects.select_for_update().filter(user=user, revoked_at__isnull=True))
        for session in sessions:
            _revoke(session, actor=actor, reason="revoke_all")
    return len(sessions)


def _revoke(session: DeviceSession, *, actor: User | None, reason: str) -> None:
    session.revoked_at = timezone.now()
    session.save(update_fields=["revoked_at"])
    if session.refresh_jti:
        _blacklist(session.refresh_jti)
    audit_record(
        actor=actor, action="session.revoked", target=session, after={"reason": reason}, system_actor="security"
    )


def _blacklist(jti: str) -> None:
    """Record the token in simplejwt's blacklist, so its own checks agree with ours."""
    outstanding = OutstandingToken.objects.filter(jti=jti).first()
    if outstanding is not None:
        BlacklistedToken.objects.get_or_create(token=outstanding)


SESSION_TOUCH_SECONDS = 300


def session_touch(*, session: DeviceSession) -> None:
    """Keep `last_used_at` roughly current without a database write on every request (at most every 5 minutes)."""
    if _mark_touched(session):
        DeviceSession.objects.filter(pk=session.pk).update(last_used_at=timezone.now())


def _mark_touched(session: DeviceSession) -> bool:
    return cache.add(f"session:touched:{session.pk}", 1, timeout=SESSION_TOUCH_SECONDS)


# ---------------------------------------------------------------------------------------------------------------------
# Profile


def profile_update(*, user: User, actor: User, **changes: str) -> User:
    """Change what a user may change about themselves: display name and preferred language."""
    allowed = {"display_name", "preferred_language"}
    changes = {name: value for name, value in changes.items() if name in allowed}
    if not changes:
        return user
    with transaction.atomic():
        before = {name: getattr(user, name) for name in changes}
        for name, value in changes.items():
            setattr(user, name, value)
        user.save(update_fields=list(changes))
        audit_record(actor=actor, action="user.profile_updated", target=user, before=before, after=changes)
    return user


# ---------------------------------------------------------------------------------------------------------------------
# DID and wallet binding


def _challenge_create(
    *, user: User, kind: str, message_for_nonce: Callable[[str, datetime, datetime], str]
) -> IdentityChallenge:
    nonce = secrets.token_hex(16)
    now = timezone.now()
    expires_at = now + timedelta(seconds=settings.IDENTITY_CHALLENGE_TTL_SECONDS)
    return IdentityChallenge.objects.create(
        user=user,
        kind=kind,
        nonce=nonce,
        message=message_for_nonce(nonce, now, expires_at),
        created_at=now,
        expires_at=expires_at,
    )


def _challenge_use(challenge: IdentityChallenge) -> bool:
    """Mark a challenge used; False if someone else used it first (a conditional update claims it once)."""
    return IdentityChallenge.objects.filter(pk=challenge.pk, used_at__isnull=True).update(used_at=timezone.now()) == 1


def did_challenge_create(*, user: User) -> IdentityChallenge:
    """A nonce for the phone to sign with its DID key (Ed25519 over the exact `message`)."""
    return _challenge_create(
        user=user,
        kind=ChallengeKind.DID,
        message_for_nonce=lambda nonce, _now, _expires: f"PeerPower DID binding\nuser: {user.pk}\nnonce: {nonce}",
    )


def did_bind(*, user: User, did: str, signature: str) -> User:
    """Bind a did:key to the user after checking its key signed the user's latest DID challenge."""
    did_public_key(did)  # malformed DIDs are refused before anything else
    if user.did:
        raise DidAlreadyBound()
    challenge = (
        IdentityChallenge.objects.filter(
            user=user, kind=ChallengeKind.DID, used_at__isnull=True, expires_at__gt=timezone.now()
        )
        .order_by("-created_at")
        .first()
    )
    if challenge is None:
        raise ChallengeInvalid()
    verify_did_signature(did=did, message=challenge.message, signature=signature)
    if User.objects.filter(did=did).exclude(pk=user.pk).exists():
        raise DidTaken()
    try:
        with transaction.atomic():
            if not _challenge_use(challenge):
                raise ChallengeInvalid()
            user.did = did
            user.save(update_fields=["did"])
            audit_record(actor=user, action="user.did_bound", target=user, after={"did": did})
    except IntegrityError:
        raise DidTaken() from None
    return user


def wallet_challenge_create(*, user: User, address: str) -> IdentityChallenge:
    """A Sign-In with Ethereum message for `address` to sign (EIP-4361), with a fresh nonce."""
    if not is_address(address or ""):
        raise WalletMessageMalformed(details={"address": address})
    checksummed = to_checksum_address(address)
    return _challenge_create(
        user=user,
        kind=ChallengeKind.WALLET,
        message_for_nonce=lambda nonce, now, expires_at: build_message(
            domain=settings.SIWE_DOMAIN,
            address=checksummed,
            uri=settings.SIWE_URI,
            chain_id=settings.SIWE_CHAIN_ID,
            nonce=nonce,
            issued_at=now,
            expires_at=expires_at,
        ),
    )


def wallet_bind(*, user: User, message: str, signature: str) -> User:
    """Bind the wallet that signed a SIWE message we issued to this user. Each failure has its own code."""
    parsed = parse_message(message)
    if parsed.domain != settings.SIWE_DOMAIN:
        raise WalletDomainMismatch(details={"expected": settings.SIWE_DOMAIN, "got": parsed.domain})
    if parsed.chain_id != settings.SIWE_CHAIN_ID:
        raise WalletChainMismatch(details={"expected": settings.SIWE_CHAIN_ID, "got": parsed.chain_id})
    challenge = IdentityChallenge.objects.filter(user=user, kind=ChallengeKind.WALLET, nonce=parsed.nonce).first()
    if challenge is None:
        raise WalletNonceInvalid()
    if challenge.used_at is not None:
        raise WalletMessageReused()
    now = timezone.now()
    if challenge.expires_at <= now or (parsed.expiration_time is not None and parsed.expiration_time <= now):
        raise WalletMessageExpired()
    if recover_signer(message, signature) != parsed.address:
        raise WalletSignatureInvalid()
    if User.objects.filter(evm_address=parsed.address).exclude(pk=user.pk).exists():
        raise WalletTaken()
    try:
        with transaction.atomic():
            if not _challenge_use(challenge):
                raise WalletMessageReused()
            before = {"evm_address": user.evm_address}
            user.evm_address = parsed.address
            user.save(update_fields=["evm_address"])
            audit_record(
                actor=user,
                action="user.wallet_bound",
                target=user,
                before=before,
                after={"evm_address": parsed.address},
            )
    except IntegrityError:
        raise WalletTaken() from None
    return user


def wallet_unbind(*, user: User) -> User:
    if not user.evm_address:
        raise WalletNotBound()
    with transaction.atomic():
        before = {"evm_address": user.evm_address}
        user.evm_address = None
        user.save(update_fields=["evm_address"])
        audit_record(actor=user, action="user.wallet_unbound", target=user, before=before, after={"evm_address": None})
    return user


# ---------------------------------------------------------------------------------------------------------------------
# Client organisations and API keys


def client_create(
    *, user: User, name: str, contact_email: str = "", contact_phone: str = "", verification_codes: bool = False
) -> ClientOrganization:
    """Create a client organisation owned by `user`."""
    if contact_phone:
        contact_phone = normalize_phone(contact_phone, require_mobile=False, allowed_regions=[]).e164
    with transaction.atomic():
        organization = ClientOrganization.objects.create(
            name=name, contact_email=contact_email, contact_phone=contact_phone, verification_codes=verification_codes
        )
        ClientMembership.objects.create(organization=organization, user=user, role=ClientRole.OWNER)
        audit_record(actor=user, action="client.created", target=organization, after={"name": name})
    return organization


CLIENT_EDITABLE = ("name", "contact_email", "contact_phone", "verification_codes")


def client_update(*, organization: ClientOrganization, actor: User, **changes: object) -> ClientOrganization:
    """The owner changes the organisation's name, contacts, or whether SMS carry a verification code."""
    changes = {name: value for name, value in changes.items() if name in CLIENT_EDITABLE}
    if changes.get("contact_phone"):
        changes["contact_phone"] = normalize_phone(
            str(changes["contact_phone"]), require_mobile=False, allowed_regions=[]
        ).e164
    with transaction.atomic():
        before = {name: getattr(organization, name) for name in changes}
        for name, value in changes.items():
            setattr(organization, name, value)
        if changes:
            organization.save(update_fields=list(changes))
            audit_record(actor=actor, action="client.updated", target=organization, before=before, after=changes)
    return organization


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(
    *,
    organization: ClientOrganization,
    actor: User,
    name: str,
    rate_per_second: int | None = None,
    rate_per_day: int | None = None,
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored and cannot be shown again."""
    secret = settings.API_KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            organization=organization,
            name=name,
            prefix=secret[: len(settings.API_KEY_PREFIX) + 6],
            secret_hash=hash_api_key(secret),
            created_by=actor,
            rate_per_second=rate_per_second,
            rate_per_day=rate_per_day,
        )
        audit_record(actor=actor, action="api_key.created", target=key, after={"name": name, "prefix": key.prefix})
    return key, secret


def api_key_revoke(*, api_key: ApiKey, actor: User) -> ApiKey:
    with transaction.atomic():
        if ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=timezone.now()) == 1:
            audit_record(actor=actor, action="api_key.revoked", target=api_key, after={"prefix": api_key.prefix})
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


API_KEY_TOUCH_SECONDS = 60


def api_key_touch(*, api_key: ApiKey) -> None:
    """Record use at most once a minute per key, so authentication does not write on every request."""
    if cache.add(f"api-key:touched:{api_key.pk}", 1, timeout=API_KEY_TOUCH_SECONDS):
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())
