"""Authentication without a database query per request: valid device sessions and API keys are kept in each
process (apps.core.local_cache), stamped with a version in the shared cache that every revocation replaces.

A request costs one shared-cache read (the version) instead of a query; a revoked session or key is refused on its
very next request in every process, because revoking replaces the version before it returns (and once more when its
transaction commits: a request that read the new version but the still-uncommitted row must not keep it). A phone's
job requests read that version inside the script that counts their rate limit and heartbeat mark
(`session_valid_deferred`): one round trip for all three, a revoked session still refused before anything happens.

What invalidates:
- a device session: its revocation (logout, revoke, revoke all, refresh-token reuse), and any save of its user
  (deactivation by staff, profile changes) — one version per user;
- an API key: its revocation, any save of the key (staff changing its limits), any save of its organisation
  (blocking it) — one version per key.

AUTH_LOCAL_CACHE_SECONDS bounds how long an entry lives anyway (fields written without a save); 0 turns the cache off.

A phone's access token is also kept once verified (`access_token_verified`): the JWT's decode and signature check ran
on every request (a few per cent of the web's CPU end to end), though the same token comes back for its whole
lifetime. A verified token says nothing about its session — that is still `session_valid`'s version read on every
request — so keeping it changes no revocation; it lives no longer than the token's own `exp`.
"""

import copy
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models.base import ModelState
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework_simplejwt.tokens import Token

from apps.accounts.models import ApiKey, ClientOrganization, DeviceSession, User
from apps.core.local_cache import VersionCheck, VersionedLocalCache, read_through, read_through_deferred, version_bump

LOCAL_MAX_ENTRIES = 20_000

_sessions: VersionedLocalCache[DeviceSession] = VersionedLocalCache(max_entries=LOCAL_MAX_ENTRIES)
_api_keys: VersionedLocalCache[ApiKey] = VersionedLocalCache(max_entries=LOCAL_MAX_ENTRIES)
# Verified access tokens by their encoded form. No shared version: nothing but time makes a verified token invalid
# (`access_token_verified`). The wall clock, as the token's `exp` is wall-clock time.
_access_tokens: VersionedLocalCache[Token] = VersionedLocalCache(max_entries=LOCAL_MAX_ENTRIES, clock=time.time)
_NO_VERSION = ""


def _user_version_key(user_id: object) -> str:
    return f"auth:user:{user_id}"


def _api_key_version_key(secret_hash: str) -> str:
    return f"auth:api-key:{secret_hash}"


def session_valid(*, session_id: object, user_id: object) -> tuple[DeviceSession | None, bool]:
    """The open session `session_id` of active user `user_id` (with its user, `user.device_session` set), or None;
    and whether it came from the database (False: from this process's cache, with no query)."""
    load = _session_loader(session_id, user_id)
    cached, loaded = read_through(_sessions, session_id, version_key=_user_version_key(user_id), ttl=_ttl(), load=load)
    return _own_session(cached), loaded


def session_valid_deferred(
    *, session_id: object, user_id: object
) -> tuple[DeviceSession | None, bool, VersionCheck | None]:
    """`session_valid` without the shared-cache read when this process holds the session: then with the
    `VersionCheck` the caller must settle before the request has any effect (a revoked session, or a changed user,
    fails it). For a caller that settles it in a round trip it makes anyway (the phone's request: its rate limit and
    heartbeat mark)."""
    load = _session_loader(session_id, user_id)
    cached, loaded, check = read_through_deferred(
        _sessions, session_id, version_key=_user_version_key(user_id), ttl=_ttl(), load=load
    )
    return _own_session(cached), loaded, check


def _session_loader(session_id: object, user_id: object) -> Callable[[], DeviceSession | None]:
    def load() -> DeviceSession | None:
        session = DeviceSession.objects.select_related("user").filter(pk=session_id).first()
        if session is None or session.revoked_at is not None or not session.user.is_active:
            return None
        if str(session.user_id) != str(user_id):
            return None
        return session

    return load


def _own_session(cached: DeviceSession | None) -> DeviceSession | None:
    if cached is None:
        return None
    # Each request gets its own instances: views may change request.user, and threads share the cache.
    session, user = copy.copy(cached), copy.copy(cached.user)
    session.user = user
    user.device_session = session
    return session


def sessions_invalidate(*, user_id: int) -> None:
    """Every process refuses the user's revoked sessions and reloads the user on their next request."""
    version_key = _user_version_key(user_id)
    version_bump(version_key)
    transaction.on_commit(lambda: version_bump(version_key))


def api_key_valid(*, secret_hash: str, load: Any) -> tuple[ApiKey, bool]:
    """The active key with this hash from this process's cache, or `load()` (which raises for an invalid or revoked
    key); and whether it was loaded."""
    cached, loaded = read_through(
        _api_keys, secret_hash, version_key=_api_key_version_key(secret_hash), ttl=_ttl(), load=load
    )
    return _own_copy(cached), loaded


def api_key_valid_deferred(*, secret_hash: str, load: Any) -> tuple[ApiKey, bool, VersionCheck | None]:
    """`api_key_valid` without the shared-cache read when this process holds the key: then with the `VersionCheck`
    the caller must settle before the key lets anything happen (a revoked or changed key fails it)."""
    cached, loaded, check = read_through_deferred(
        _api_keys, secret_hash, version_key=_api_key_version_key(secret_hash), ttl=_ttl(), load=load
    )
    return _own_copy(cached), loaded, check


def _own_copy(cached: ApiKey) -> ApiKey:
    # Each request gets its own instances: views may change them, and threads share the cache.
    key, organization = _instance_copy(cached), _instance_copy(cached.organization)
    key.organization = organization
    return key


def _instance_copy(instance: Any) -> Any:
    """`copy.copy(instance)` of a model instance as Django's pickling state makes it — its own attributes, its own
    `_state` and cache of related objects (which still name the same related instances) — without the way through
    `__reduce_ex__`, `model_unpickle` and a second `copy.copy` for the state: every request with an API key makes
    two: 38 Python calls, now 10 (36 µs, now 7, on a loaded machine). A test holds the two alike."""
    clone = object.__new__(type(instance))
    clone.__dict__.update(instance.__dict__)
    state = object.__new__(ModelState)
    state.__dict__.update(instance._state.__dict__)
    state.fields_cache = dict(instance._state.fields_cache)
    clone._state = state
    return clone


def api_keys_invalidate(*, secret_hashes: list[str]) -> None:
    """Every process reloads these keys (revoked, limits or organisation changed) on their next request."""
    version_keys = [_api_key_version_key(secret_hash) for secret_hash in secret_hashes]
    version_bump(*version_keys)
    transaction.on_commit(lambda: version_bump(*version_keys))


def access_token_verified(*, raw_token: bytes, verify: Callable[[bytes], Token]) -> Token:
    """The access token `raw_token` as `verify` (the JWT's decode, signature and claim checks) returns it, from this
    process's cache when it verified the very same token before and the token has not expired since.

    Keyed by the whole encoded token, not its signature alone: a token with an altered header or payload must miss
    and fail its own verification. A token that fails is never kept. Each request gets its own copy (DRF hands it to
    the view as `request.auth`, and threads share the cache)."""
    held = _access_tokens.peek(raw_token) if _ttl() > 0 else None
    # Expired from the second `exp` on, as PyJWT (no leeway) refuses it; the cache's own expiry only evicts.
    if held is not None and time.time() < held[0].payload["exp"]:
        token = copy.copy(held[0])
        token.payload = dict(token.payload)
        return token
    token = verify(raw_token)
    expires = token.payload.get("exp")
    if _ttl() > 0 and isinstance(expires, int):
        _access_tokens.put(raw_token, copy.copy(token), version=_NO_VERSION, ttl=expires - time.time())
    return token


def local_caches_clear() -> None:
    """Forget this process's entries (what another process, which never loaded them, looks like)."""
    _sessions.clear()
    _api_keys.clear()
    _access_tokens.clear()


def _ttl() -> float:
    return settings.AUTH_LOCAL_CACHE_SECONDS


@receiver(post_save, sender=User, dispatch_uid="auth_cache_user_saved")
@receiver(post_delete, sender=User, dispatch_uid="auth_cache_user_deleted")
def _user_changed(sender: type, instance: User, **kwargs: Any) -> None:
    sessions_invalidate(user_id=instance.pk)


@receiver(post_save, sender=ApiKey, dispatch_uid="auth_cache_api_key_saved")
@receiver(post_delete, sender=ApiKey, dispatch_uid="auth_cache_api_key_deleted")
def _api_key_changed(sender: type, instance: ApiKey, **kwargs: Any) -> None:
    api_keys_invalidate(secret_hashes=[instance.secret_hash])


@receiver(post_save, sender=ClientOrganization, dispatch_uid="auth_cache_organization_saved")
def _organization_changed(sender: type, instance: ClientOrganization, created: bool, **kwargs: Any) -> None:
    if not created:
        hashes = list(ApiKey.objects.filter(organization=instance).values_list("secret_hash", flat=True))
        api_keys_invalidate(secret_hashes=hashes)
