from django.db import models


class FiatCurrency(models.TextChoices):
    """What clients pay in through Baray (the ledger's fiat ledgers: riel, US dollars)."""

    KHR = "KHR", "Cambodian riel"
    USD = "USD", "US dollar"


# Decimal places of each currency's smallest unit (riel are whole; dollars have cents).
FIAT_SCALES = {FiatCurrency.KHR: 0, FiatCurrency.USD: 2}


class TopUpMethod(models.TextChoices):
    CHECKOUT = "checkout", "Baray checkout page"
    ABA_KHQR = "aba_khqr", "ABA KHQR (QR code and ABA Mobile deeplink)"


class TopUpStatus(models.TextChoices):
    """creating → pending (Baray has the intent) → succeeded (PPT issued) | failed | expired. `failed` also covers an
    intent Baray refused or could not be asked for. Only Baray's server-side status moves a top-up on."""

    CREATING = "creating", "Creating the intent"
    PENDING = "pending", "Waiting for payment"
    SUCCEEDED = "succeeded", "Paid; PPT issued"
    FAILED = "failed", "Failed"
    EXPIRED = "expired", "Expired"


class ExchangeKind(models.TextChoices):
    CREATE_INTENT = "create_intent", "Create intent"
    STATUS = "status", "Status check"
    WEBHOOK = "webhook", "Webhook received"


class NotificationOutcome(models.TextChoices):
    """What became of a webhook from Baray (also the `outcome` label of `peerpower_baray_webhooks_total`)."""

    SETTLED = "settled", "Confirmed with Baray; top-up updated"
    REPLAYED = "replayed", "Already settled: nothing changed"
    NOT_SETTLED = "not_settled", "Baray says it is still pending: nothing changed"
    INVALID = "invalid", "Not decryptable, or no such order (forged): nothing changed"
    MISMATCH = "mismatch", "Baray's amount or currency differs from ours: nothing changed"
    PROVIDER_UNAVAILABLE = "provider_unavailable", "Baray could not confirm: nothing changed (Baray retries)"
