"""Device sessions: sign-in by OTP, refresh-token rotation with reuse detection, logout and revocation.

A refused refresh still leaves its trace: a reused refresh token revokes the session, committed before the error is
raised.
"""

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.choices import OtpPurpose
from apps.accounts.errors import SessionRevoked, TokenInvalid
from apps.accounts.models import DeviceSession, User
from apps.accounts.services.denylist import phone_check_allowed
from apps.accounts.services.otp import otp_verify
from apps.audit.services import audit_record
from apps.core.context import client_ip_var
from apps.core.errors import PermissionDenied

ROTATION_CACHE_MARGIN_SECONDS = 5


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
            phone_check_allowed(phone=challenge.phone)
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
    exists, so the session is revoked (refresh-token reuse detection).

    One exception, for flaky mobile networks: the token rotated last, presented again within
    JWT_REFRESH_REPLAY_GRACE_SECONDS of its rotation, gets the same new pair again (the phone never received the
    first response and retried). A replay after the grace, or of any older token, still revokes the session.
    """
    claims = _decode_refresh(raw_refresh)
    now = timezone.now()
    reused = False
    replayed: SessionTokens | None = None
    with transaction.atomic():
        session = DeviceSession.objects.select_for_update().select_related("user").filter(pk=claims["sid"]).first()
        if session is None or session.revoked_at is not None or not session.user.is_active:
            raise SessionRevoked()
        if claims["jti"] != session.refresh_jti:
            replayed = _rotation_replayed(session=session, claims=claims, raw_refresh=raw_refresh, now=now)
            if replayed is None:
                _revoke(session, actor=None, reason="refresh_token_reused")
                reused = True
        else:
            _blacklist(claims["jti"])
            session.last_used_at = now
            tokens = _issue_tokens(session)
    if reused:
        raise SessionRevoked(details={"reason": "refresh_token_reused"})
    if replayed is not None:
        return replayed
    _rotation_remember(rotated_jti=claims["jti"], raw_refresh=raw_refresh, tokens=tokens, now=now)
    return tokens


# The pair a rotation issued is kept for the grace in the cache only, sealed with a key derived from the rotated
# token itself: only whoever presents that token can open it (as they could rotate it anyway), so the cache (Redis)
# never holds a usable token.
def _rotation_cache_key(rotated_jti: str) -> str:
    return f"session:rotated:{rotated_jti}"


def _rotation_seal(raw_refresh: str) -> Fernet:
    digest = hashlib.sha256(b"peerpower refresh rotation\0" + raw_refresh.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def _rotation_remember(*, rotated_jti: str, raw_refresh: str, tokens: SessionTokens, now: datetime) -> None:
    grace = settings.JWT_REFRESH_REPLAY_GRACE_SECONDS
    if grace <= 0:
        return
    sealed = _rotation_seal(raw_refresh).encrypt(json.dumps([tokens.access, tokens.refresh]).encode())
    record = {"rotated_at": now.timestamp(), "next_jti": tokens.session.refresh_jti, "pair": sealed}
    # The cache entry outlives the grace a little; the grace itself is measured on `rotated_at`.
    cache.set(_rotation_cache_key(rotated_jti), record, timeout=grace + ROTATION_CACHE_MARGIN_SECONDS)


def _rotation_replayed(
    *, session: DeviceSession, claims: dict, raw_refresh: str, now: datetime
) -> SessionTokens | None:
    """The pair the rotation of this (previous) token issued, if it is still the session's latest and the grace has
    not passed; None otherwise."""
    grace = settings.JWT_REFRESH_REPLAY_GRACE_SECONDS
    record = cache.get(_rotation_cache_key(claims["jti"])) if grace > 0 else None
    if record is None or record["next_jti"] != session.refresh_jti or now.timestamp() - record["rotated_at"] > grace:
        return None
    try:
        access, refresh = json.loads(_rotation_seal(raw_refresh).decrypt(record["pair"]))
    except InvalidToken:
        return None
    return SessionTokens(session=session, access=access, refresh=refresh)


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
