"""Top-up errors (codes are stable: clients branch on them)."""

from django.utils.translation import gettext_lazy as _

from apps.core.errors import DomainError, NotFound, ServiceUnavailable, ValidationFailed


class TopUpNotFound(NotFound):
    code = "topup_not_found"
    default_message = _("No such top-up.")


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    default_message = _("No such organisation.")


class AmountInvalid(ValidationFailed):
    code = "amount_invalid"
    default_message = _("The amount must be a number.")


class AmountNotPositive(ValidationFailed):
    code = "amount_not_positive"
    default_message = _("The amount must be greater than zero.")


class AmountTooPrecise(ValidationFailed):
    code = "amount_too_precise"
    default_message = _("The amount has more decimal places than the currency allows.")


class AmountBelowMinimum(ValidationFailed):
    code = "amount_below_minimum"
    default_message = _("The amount is below the minimum top-up.")


class AmountAboveMaximum(ValidationFailed):
    code = "amount_above_maximum"
    default_message = _("The amount is above the maximum top-up.")


class CurrencyUnsupported(ValidationFailed):
    code = "currency_unsupported"
    default_message = _("Top-ups are in KHR or USD.")


class ExchangeRateUnavailable(ServiceUnavailable):
    code = "exchange_rate_unavailable"
    default_message = _("Top-ups are not available right now. Try again later.")


class PaymentProviderUnavailable(ServiceUnavailable):
    code = "payment_provider_unavailable"
    default_message = _("The payment service is not available right now. Try again later.")


class PaymentProviderRefused(DomainError):
    status_code = 502
    code = "payment_provider_refused"
    default_message = _("The payment service refused this top-up.")


class NotificationInvalid(ValidationFailed):
    """Any webhook we cannot act on before asking Baray: undecryptable, malformed, or naming no order of ours. One
    answer for all, so the answer tells a forger nothing (no padding oracle)."""

    code = "notification_invalid"
    default_message = _("Invalid notification.")


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"
    default_message = _("No such receipt.")


class LanguageUnsupported(ValidationFailed):
    code = "language_unsupported"
    default_message = _("Documents are in Khmer (km) or English (en).")


class DateInvalid(ValidationFailed):
    code = "date_invalid"
    default_message = _("Dates are written YYYY-MM-DD.")


class DateRangeInvalid(ValidationFailed):
    code = "date_range_invalid"
    default_message = _("The start date must not be after the end date.")


class DateRangeTooLong(ValidationFailed):
    code = "date_range_too_long"
    default_message = _("The date range is too long.")


class MonthInvalid(ValidationFailed):
    code = "month_invalid"
    default_message = _("Months are written YYYY-MM and cannot be in the future.")


class TopUpNotRefundable(DomainError):
    status_code = 409
    code = "topup_not_refundable"
    default_message = _("Only a paid top-up can be refunded.")


class RefundAlreadyProposed(DomainError):
    status_code = 409
    code = "refund_already_proposed"
    default_message = _("A refund of this top-up is already proposed or approved.")
