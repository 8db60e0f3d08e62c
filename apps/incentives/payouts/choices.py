from django.db import models
from django.utils.translation import gettext_lazy as _


class PayoutMethod(models.TextChoices):
    AIRTIME = "airtime", _("Airtime top-up")
    CASH = "cash", _("Cash (bank account)")
    WALLET = "wallet", _("On-chain wallet")


class PayoutCurrency(models.TextChoices):
    """What a payout is paid in, in its smallest unit (US cents, riel)."""

    USD = "USD", _("US dollar")
    KHR = "KHR", _("Cambodian riel")


# Decimal places of each currency's smallest unit (the wire APIs take decimal strings).
CURRENCY_SCALES = {PayoutCurrency.USD: 2, PayoutCurrency.KHR: 0}

# A wallet payout is paid in PPT itself (its "fiat" amount is the PPT amount, in 10⁻⁶ PPT): no rate, no currency to
# buy. Only payouts carry it; payout rates and bank accounts stay in the currencies above.
WALLET_CURRENCY = "PPT"
PAID_IN_CHOICES = [*PayoutCurrency.choices, (WALLET_CURRENCY, _("PPT (on chain)"))]


class PayoutStatus(models.TextChoices):
    """awaiting_approval → queued (approved) or rejected; queued → sending (claimed once, the call goes out) →
    succeeded | failed | pending (outcome unknown: resolved only by a status check) → succeeded | failed. A wallet
    payout goes to pending as its withdrawal is booked (at the request, or on approval) and follows the withdrawal
    to succeeded (settled) or failed."""

    AWAITING_APPROVAL = "awaiting_approval", _("Awaiting staff approval")
    QUEUED = "queued", _("Queued")
    SENDING = "sending", _("Sending")
    PENDING = "pending", _("Pending (outcome unknown)")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed")
    REJECTED = "rejected", _("Rejected by staff")


OPEN_STATUSES = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.QUEUED, PayoutStatus.SENDING, PayoutStatus.PENDING)
FINAL_STATUSES = (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.REJECTED)
# Statuses that count against the daily limit (everything but what gave the money back).
COUNTED_STATUSES = (*OPEN_STATUSES, PayoutStatus.SUCCEEDED)
