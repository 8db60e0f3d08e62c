"""DRF authentication: JWT access tokens bound to device sessions (the app), and API keys (client systems)."""

from dataclasses import dataclass

from django.conf import settings
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import Token

from apps.accounts.auth_cache import (
    access_token_verified,
    api_key_valid,
    api_key_valid_deferred,
    session_valid,
    session_valid_deferred,
)
from apps.accounts.errors import ApiKeyInvalid, ApiKeyRevoked, SessionRevoked, TokenInvalid
from apps.accounts.models import ApiKey, ClientOrganization, User
from apps.accounts.selectors import api_key_by_secret
from apps.accounts.services import api_key_touch, hash_api_key, session_touch
from apps.core.errors import DomainError
from apps.core.local_cache import VersionCheck


class SessionJWTAuthentication(JWTAuthentication):
    """A JWT access token is only as good as its session: once the device is signed out, its tokens stop working
    at once, not when they expire. The session and user come from one query, or from this process's cache with one
    shared-cache read that tells whether they were revoked or changed since (apps.accounts.auth_cache). The token's
    decode and signature check run once per token and process (`access_token_verified`); the session's check runs on
    every request, so a revocation still refuses the very next one.

    `deferred=True` (the phone's views, apps.delivery.api.views.PhoneView) takes a session this process holds without
    reading its shared version: the user then carries the `credential_check` the view settles before the request has
    any effect, in the round trip that counts its rate limit and heartbeat mark (a revoked session fails it)."""

    # What it refuses a request with (401), for the API schema (apps.core.schema).
    schema_errors = (TokenInvalid, SessionRevoked)

    def __init__(self, *, deferred: bool = False) -> None:
        super().__init__()
        self.deferred = deferred

    def get_validated_token(self, raw_token: bytes) -> Token:
        return access_token_verified(raw_token=raw_token, verify=super().get_validated_token)

    def get_user(self, validated_token: Token) -> User:
        session_id, user_id = validated_token.get("sid"), validated_token.get("user_id")
        session, loaded, check = (None, False, None)
        if session_id and self.deferred:
            session, loaded, check = session_valid_deferred(session_id=session_id, user_id=user_id)
        elif session_id:
            session, loaded = session_valid(session_id=session_id, user_id=user_id)
        if session is None:
            raise AuthenticationFailed(SessionRevoked.default_message, code=SessionRevoked.code)
        if loaded:  # reloaded every AUTH_LOCAL_CACHE_SECONDS at least, which keeps last_used_at roughly current
            session_touch(session=session)
        session.user.credential_check = check  # the request's own copy (`session_valid`)
        return session.user


@dataclass
class ApiClient:
    """The principal of a request made with an API key: the client organisation, through one of its keys."""

    organization: ClientOrganization
    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_staff: bool = False
    # Set when the key came from this process's cache unverified (`authenticate_deferred`): to be settled before the
    # request has any effect.
    credential_check: VersionCheck | None = None

    @property
    def pk(self) -> int:
        return self.organization.pk


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer pp_live_…` or `X-API-Key: pp_live_…`. Leaves other bearer tokens (JWTs) alone."""

    keyword = "Bearer"
    # What it refuses a request with (401), for the API schema (apps.core.schema).
    schema_errors = (ApiKeyInvalid, ApiKeyRevoked)

    def authenticate(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        return self._authenticate(request, deferred=False)

    def authenticate_deferred(self, request: Request) -> tuple[ApiClient, ApiKey] | None:
        """`authenticate`, but a key this process holds is taken without reading its shared version: the principal
        then carries the `credential_check` to settle before the request has any effect (a revoked key fails it).
        For a caller that settles it in a round trip it makes anyway (apps.core.lean, the send's counters)."""
        return self._authenticate(request, deferred=True)

    def _authenticate(self, request: Request, *, deferred: bool) -> tuple[ApiClient, ApiKey] | None:
        secret = request.META.get("HTTP_X_API_KEY", "")
        if not secret:
            parts = get_authorization_header(request).decode(errors="replace").split()
            if len(parts) == 2 and parts[0] == self.keyword and parts[1].startswith(_key_prefixes()):
                secret = parts[1]
        if not secret:
            return None
        check = None
        try:
            secret_hash = hash_api_key(secret)
            if deferred:
                key, loaded, check = api_key_valid_deferred(
                    secret_hash=secret_hash, load=lambda: api_key_by_secret(secret=secret)
                )
            else:
                key, loaded = api_key_valid(secret_hash=secret_hash, load=lambda: api_key_by_secret(secret=secret))
        except DomainError as error:
            raise AuthenticationFailed(error.message, code=error.code) from None
        if loaded:  # as often as the cache reloads the key, at most once a minute per process
            api_key_touch(api_key=key)
        return ApiClient(organization=key.organization, api_key=key, credential_check=check), key

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="api"'


def _key_prefixes() -> tuple[str, ...]:
    # Keys made under another prefix setting (test keys in production, say) must still be recognised as keys,
    # to be refused with a clear code rather than parsed as a JWT.
    return (settings.API_KEY_PREFIX, "pp_")
