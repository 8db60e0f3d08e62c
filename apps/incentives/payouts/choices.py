from django.db import models


class PayoutMethod(models.TextChoices):
    AIRTIME = "airtime", "Airtime top-up"
    CASH = "cash", "Cash (bank account)"
    WALLET = "wallet", "On-chain wallet"


class PayoutCurrency(models.TextChoices):
    """What a payout is paid in, in its smallest unit (US cents, riel)."""

    USD = "USD", "US dollar"
    KHR = "KHR", "Cambodian riel"


# Decimal places of each currency's smallest unit (the wire APIs take decimal strings).
CURRENCY_SCALES = {PayoutCurrency.USD: 2, PayoutCurrency.KHR: 0}


class PayoutStatus(models.TextChoices):
    """awaiting_approval → queued (approved) or rejected; queued → sending (claimed once, the call goes out) →
    succeeded | failed | pending (outcome unknown: resolved only by a status check) → succeeded | failed."""

    AWAITING_APPROVAL = "awaiting_approval", "Awaiting staff approval"
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    PENDING = "pending", "Pending (outcome unknown)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    REJECTED = "rejected", "Rejected by staff"


OPEN_STATUSES = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.QUEUED, PayoutStatus.SENDING, PayoutStatus.PENDING)
FINAL_STATUSES = (PayoutStatus.SUCCEEDED, PayoutStatus.FAILED, PayoutStatus.REJECTED)
# Statuses that count against the daily limit (everything but what gave the money back).
COUNTED_STATUSES = (*OPEN_STATUSES, PayoutStatus.SUCCEEDED)
