"""The ledger's domain errors (codes are stable: clients and other apps branch on them)."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import (
    Conflict,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    Unprocessable,
    ValidationFailed,
)


class TransferRefused(Conflict):
    """A single transfer, post or void was not applied; `code` is its `Result` (exceeds_credits, …)."""

    default_message = _("The transfer was refused.")


class AccountNotFound(NotFound):
    code = "account_not_found"
    default_message = _("No such account.")


class WalletNotFound(NotFound):
    code = "wallet_not_found"
    default_message = _("There is no wallet for this user.")


class OrganizationRequired(ValidationFailed):
    code = "organization_required"
    default_message = _("You belong to several organisations: say which one with ?organization=<id>.")


class AdjustmentNotPending(Conflict):
    code = "adjustment_not_pending"
    default_message = _("This adjustment has already been decided.")


class FourEyesRequired(PermissionDenied):
    code = "four_eyes_required"
    default_message = _("An adjustment must be approved by a staff member other than the one who proposed it.")


class ChainMisconfigured(ServiceUnavailable):
    """The chain settings are wrong (no key, another chain id at the endpoint): an operator must act."""

    code = "chain_misconfigured"
    default_message = _("The blockchain connection is misconfigured.")


class ChainUnavailable(ServiceUnavailable):
    """The node did not answer (timeout, connection refused, 5xx); what was signed is stored and sent again later."""

    code = "chain_unavailable"
    default_message = _("The blockchain is unavailable; try again later.")


class ChainCallWouldRevert(Conflict):
    """Gas estimation says the call would revert (no role, no balance): nothing was signed, no nonce was used."""

    code = "chain_call_would_revert"
    default_message = _("The blockchain refused the operation.")


class WithdrawalBelowMinimum(ValidationFailed):
    code = "withdrawal_below_minimum"
    default_message = _("The amount is below the smallest withdrawal.")


class WithdrawalExceedsBalance(Conflict):
    code = "withdrawal_exceeds_balance"
    default_message = _("The amount is more than your wallet's available balance.")


class WithdrawalDailyLimitExceeded(Unprocessable):
    code = "withdrawal_daily_limit_exceeded"
    default_message = _("This would pass your wallet's withdrawal limit for 24 hours.")


class WithdrawalNotFound(NotFound):
    code = "withdrawal_not_found"
    default_message = _("No such withdrawal.")


class WithdrawalReferenceReused(Conflict):
    code = "withdrawal_reference_reused"
    default_message = _("This reference was already used for a different withdrawal.")
