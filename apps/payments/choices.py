from django.db import models
from django.utils.translation import gettext_lazy as _

from apps.core.money import SCALES


class FiatCurrency(models.TextChoices):
    """What clients pay in through Baray (the ledger's fiat ledgers: riel, US dollars)."""

    KHR = "KHR", _("Cambodian riel")
    USD = "USD", _("US dollar")


# Decimal places of each currency's smallest unit (riel are whole; dollars have cents): apps.core.money's.
FIAT_SCALES = {currency: SCALES[currency] for currency in FiatCurrency}


class TopUpMethod(models.TextChoices):
    CHECKOUT = "checkout", _("Baray checkout page")
    ABA_KHQR = "aba_khqr", _("ABA KHQR (QR code and ABA Mobile deeplink)")


class TopUpStatus(models.TextChoices):
    """creating → pending (Baray has the intent) → succeeded (PPT issued) | failed | expired. `failed` also covers an
    intent Baray refused or could not be asked for. Only Baray's server-side status moves a top-up on."""

    CREATING = "creating", _("Creating the intent")
    PENDING = "pending", _("Waiting for payment")
    SUCCEEDED = "succeeded", _("Paid; PPT issued")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExchangeKind(models.TextChoices):
    CREATE_INTENT = "create_intent", _("Create intent")
    STATUS = "status", _("Status check")
    WEBHOOK = "webhook", _("Webhook received")


class NotificationOutcome(models.TextChoices):
    """What became of a webhook from Baray (also the `outcome` label of `peerpower_baray_webhooks_total`)."""

    SETTLED = "settled", _("Confirmed with Baray; top-up updated")
    REPLAYED = "replayed", _("Already settled: nothing changed")
    NOT_SETTLED = "not_settled", _("Baray says it is still pending: nothing changed")
    INVALID = "invalid", _("Not decryptable, or no such order (forged): nothing changed")
    MISMATCH = "mismatch", _("Baray's amount or currency differs from ours: nothing changed")
    PROVIDER_UNAVAILABLE = "provider_unavailable", _("Baray could not confirm: nothing changed (Baray retries)")
