"""Identity's domain errors, each with its own stable code."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, NotFound, PermissionDenied, RateLimited, ValidationFailed


class OtpInvalid(ValidationFailed):
    code = "otp_invalid"
    default_message = _("The code is not correct.")


class OtpExpired(ValidationFailed):
    code = "otp_expired"
    default_message = _("The code has expired. Request a new one.")


class OtpLocked(ValidationFailed):
    code = "otp_locked"
    default_message = _("Too many wrong codes. Request a new one.")


class OtpResendTooSoon(RateLimited):
    code = "otp_resend_too_soon"
    default_message = _("A code was sent moments ago. Wait before asking for another.")


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"
    default_message = _("Authentication credentials were not provided.")


class TokenInvalid(NotAuthenticated):
    code = "token_not_valid"
    default_message = _("The token is invalid or expired.")


class SessionRevoked(NotAuthenticated):
    code = "session_revoked"
    default_message = _("This session has been signed out.")


class ApiKeyInvalid(NotAuthenticated):
    code = "api_key_invalid"
    default_message = _("The API key is not valid.")


class ApiKeyRevoked(NotAuthenticated):
    code = "api_key_revoked"
    default_message = _("The API key has been revoked.")


class ChallengeInvalid(ValidationFailed):
    code = "challenge_invalid"
    default_message = _("The challenge is unknown, used or expired. Request a new one.")


class DidMalformed(ValidationFailed):
    code = "did_malformed"
    default_message = _("The DID is not a did:key of an Ed25519 key.")


class DidSignatureInvalid(ValidationFailed):
    code = "did_signature_invalid"
    default_message = _("The signature does not match the DID key and the challenge.")


class DidTaken(Conflict):
    code = "did_taken"
    default_message = _("This DID is already bound to another account.")


class DidAlreadyBound(Conflict):
    code = "did_already_bound"
    default_message = _("Your account already has a DID.")


class WalletMessageMalformed(ValidationFailed):
    code = "wallet_message_malformed"
    default_message = _("The message is not a valid Sign-In with Ethereum message.")


class WalletNonceInvalid(ValidationFailed):
    code = "wallet_nonce_invalid"
    default_message = _("The message's nonce is not one we issued to you.")


class WalletMessageReused(ValidationFailed):
    code = "wallet_message_reused"
    default_message = _("This message has already been used.")


class WalletMessageExpired(ValidationFailed):
    code = "wallet_message_expired"
    default_message = _("The message has expired. Request a new one.")


class WalletDomainMismatch(ValidationFailed):
    code = "wallet_domain_mismatch"
    default_message = _("The message was written for another site.")


class WalletChainMismatch(ValidationFailed):
    code = "wallet_chain_mismatch"
    default_message = _("The message is for another chain.")


class WalletSignatureInvalid(ValidationFailed):
    code = "wallet_signature_invalid"
    default_message = _("The signature does not match the message and its address.")


class WalletTaken(Conflict):
    code = "wallet_taken"
    default_message = _("This wallet is already bound to another account.")


class WalletNotBound(NotFound):
    code = "wallet_not_bound"
    default_message = _("No wallet is bound to your account.")


class ApiKeyLimitAbovePlan(ValidationFailed):
    code = "api_key_limit_above_plan"
    default_message = _("An API key's limit may not be above your organisation's plan.")


class ApiKeyAlreadyRevoked(Conflict):
    code = "api_key_already_revoked"
    default_message = _("This API key has been revoked: it can no longer be changed.")


class ApiKeyCountLimit(Conflict):
    code = "api_key_limit_reached"
    default_message = _("Your organisation has as many active API keys as its plan allows. Revoke one first.")


class ApplicationNotFound(NotFound):
    code = "client_application_not_found"
    default_message = _("This organisation has not started an application yet.")


class ApplicationLocked(Conflict):
    code = "client_application_locked"
    default_message = _("The application is under review or decided: it cannot be changed now.")


class ApplicationNotSubmitted(Conflict):
    code = "client_application_not_submitted"
    default_message = _("Only a submitted application can be decided.")


class PhoneDenied(PermissionDenied):
    code = "phone_denied"
    default_message = _("This phone number cannot be used with PeerPower. Contact support.")


class SimDenied(PermissionDenied):
    code = "sim_denied"
    default_message = _("This SIM number cannot be used with PeerPower. Contact support.")


class DeviceDenied(PermissionDenied):
    code = "device_denied"
    default_message = _("This device cannot be used with PeerPower. Contact support.")


class ErasureMoneyInFlight(Conflict):
    code = "erasure_money_in_flight"
    default_message = _("Your account still has money in flight (a payout or a hold). Ask again once it has settled.")
