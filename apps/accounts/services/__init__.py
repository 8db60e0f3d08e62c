"""The accounts app's writes, one module per concern. Import from here: `from apps.accounts.services import ...`.

- `otp`: requesting and verifying sign-in codes.
- `sessions`: device sessions and their refresh-token rotation.
- `identity`: profile, DID key and EVM wallet binding.
- `organizations`: client organisations and their API keys.
- `privacy`: a person's data export and erasure, and the deny-list of erased banned numbers.
"""

from apps.accounts.services.denylist import phone_check_allowed, phone_deny
from apps.accounts.services.identity import (
    did_bind,
    did_challenge_create,
    profile_update,
    wallet_bind,
    wallet_challenge_create,
    wallet_unbind,
)
from apps.accounts.services.organizations import (
    api_key_create,
    api_key_revoke,
    api_key_touch,
    client_create,
    client_update,
    hash_api_key,
    organization_lock,
    organization_system_get_or_create,
)
from apps.accounts.services.otp import OtpIssued, otp_request, otp_verify
from apps.accounts.services.privacy import organization_erase, organization_export, user_erase, user_export
from apps.accounts.services.sessions import (
    SessionTokens,
    otp_login,
    session_logout,
    session_refresh,
    session_revoke,
    session_revoke_all,
    session_start,
    session_touch,
)

__all__ = [
    "OtpIssued",
    "SessionTokens",
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "client_create",
    "client_update",
    "did_bind",
    "did_challenge_create",
    "hash_api_key",
    "organization_erase",
    "organization_export",
    "organization_lock",
    "organization_system_get_or_create",
    "otp_login",
    "otp_request",
    "otp_verify",
    "phone_check_allowed",
    "phone_deny",
    "profile_update",
    "session_logout",
    "session_refresh",
    "session_revoke",
    "session_revoke_all",
    "session_start",
    "session_touch",
    "user_erase",
    "user_export",
    "wallet_bind",
    "wallet_challenge_create",
    "wallet_unbind",
]
