"""The accounts app's writes, one module per concern. Import from here: `from apps.accounts.services import ...`.

- `otp`: requesting and verifying sign-in codes.
- `sessions`: device sessions and their refresh-token rotation.
- `identity`: profile, DID key and EVM wallet binding.
- `organizations`: client organisations and their API keys.
- `vetting`: the sandbox application, staff decisions and plans.
- `denylist`: phone numbers (kept as keyed hashes), SIMs and devices staff refuse.
- `privacy`: a person's data export and erasure.
"""

from apps.accounts.services.denylist import (
    NUMBER_KINDS as DENY_LIST_NUMBER_KINDS,
)
from apps.accounts.services.denylist import (
    deny_list_add,
    deny_list_erased_number,
    deny_list_normalize,
    deny_list_refuse,
    deny_list_remove,
    deny_list_values_of,
)
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
    api_key_update,
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
from apps.accounts.services.vetting import (
    PlanLimits,
    client_application_decide,
    client_application_save,
    client_application_submit,
    client_go_live,
    client_plan_assign,
    client_plan_ensure,
    client_plan_internal,
    plan_limits,
)

__all__ = [
    "DENY_LIST_NUMBER_KINDS",
    "OtpIssued",
    "PlanLimits",
    "SessionTokens",
    "api_key_create",
    "api_key_revoke",
    "api_key_touch",
    "api_key_update",
    "client_application_decide",
    "client_application_save",
    "client_application_submit",
    "client_create",
    "client_go_live",
    "client_plan_assign",
    "client_plan_ensure",
    "client_plan_internal",
    "client_update",
    "deny_list_add",
    "deny_list_erased_number",
    "deny_list_normalize",
    "deny_list_refuse",
    "deny_list_remove",
    "deny_list_values_of",
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
    "plan_limits",
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
