"""Payout errors (codes are stable: the app branches on them)."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ServiceUnavailable, Unprocessable, ValidationFailed


class PayoutBelowMinimum(ValidationFailed):
    code = "payout_below_minimum"
    default_message = _("The amount is below the minimum payout.")


class PayoutAboveAvailable(Unprocessable):
    code = "payout_above_available"
    default_message = _("The amount is more than your available earnings.")


class PayoutDailyLimitExceeded(Unprocessable):
    code = "payout_daily_limit_exceeded"
    default_message = _("This payout would pass today's payout limit.")


class PayoutNumberUnverified(Unprocessable):
    code = "payout_number_unverified"
    default_message = _("Airtime goes only to one of your own verified SIMs.")


class PayoutAccountNotWhitelisted(Unprocessable):
    code = "payout_account_not_whitelisted"
    default_message = _("This account is not registered with the payout service yet.")


class PayoutAmountTooSmall(ValidationFailed):
    code = "payout_amount_too_small"
    default_message = _("At today's rate this amount pays out nothing.")


class PayoutRateMissing(ServiceUnavailable):
    code = "payout_rate_missing"
    default_message = _("Payouts in this currency are not available right now. Try again later.")


class PayoutNotFound(NotFound):
    code = "payout_not_found"
    default_message = _("No such payout.")


class PayoutAccountNotFound(NotFound):
    code = "payout_account_not_found"
    default_message = _("No such payout account.")


class PayoutNotAwaitingApproval(Conflict):
    code = "payout_not_awaiting_approval"
    default_message = _("This payout is not waiting for approval.")


class PayoutApproverInvalid(PermissionDenied):
    code = "payout_approver_invalid"
    default_message = _("A payout is approved by a staff member other than the provider who asked for it.")
