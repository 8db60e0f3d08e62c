"""Webhook endpoints, their signing secrets, events, deliveries and attempts.

An event is stored only when someone is to hear about it; each target (an endpoint, or the message's callback URL)
gets one delivery, and each HTTP request for it is an attempt. The delivery row is the truth about what is still
owed: tasks only signal, and a sweeper picks up deliveries whose task was lost.
"""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.fields import EncryptedCharField, EncryptedTextField
from apps.delivery.webhooks.choices import AttemptOutcome, DeliveryStatus, DeliveryTarget, WebhookEventType


class SigningSecret(models.Model):
    """A secret the client uses to verify our signatures. After a rotation the previous secret also signs until
    `previous_secret_expires_at`, so a client can roll its receivers over without rejecting anything."""

    # Encrypted at rest (apps.core.crypto): we must sign with them, so they are not hashed.
    secret = EncryptedCharField(max_length=100, editable=False, verbose_name=_("secret"))
    previous_secret = EncryptedCharField(max_length=100, blank=True, editable=False, verbose_name=_("previous secret"))
    previous_secret_expires_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("previous secret expires at")
    )

    class Meta:
        abstract = True

    def signing_secrets(self, now: datetime) -> list[str]:
        """The secrets that sign a request sent at `now`: the current one first."""
        secrets = [self.secret]
        if self.previous_secret and self.previous_secret_expires_at and self.previous_secret_expires_at > now:
            secrets.append(self.previous_secret)
        return secrets

    @property
    def secret_hint(self) -> str:
        """Enough of the secret for staff to tell two apart, not enough to sign with."""
        return f"{self.secret[:10]}…" if self.secret else ""


class WebhookEndpoint(SigningSecret):
    """A client's URL that receives signed events for the event types it subscribed to.

    `active` is the client's own switch. `disabled_at` is ours: set when the endpoint kept failing (see the
    WEBHOOK_DISABLE_AFTER_* settings), cleared only by staff. Either way it receives nothing.
    """

    organization = models.ForeignKey(
        "accounts.ClientOrganization",
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        verbose_name=_("organization"),
    )
    url = models.URLField(max_length=500, verbose_name=_("url"))
    description = models.CharField(max_length=200, blank=True, verbose_name=_("description"))
    event_types = models.JSONField(
        default=list, help_text=_("The event types this endpoint receives."), verbose_name=_("event types")
    )
    active = models.BooleanField(default=True, verbose_name=_("active"))
    disabled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("disabled at"))
    disabled_reason = models.CharField(max_length=200, blank=True, verbose_name=_("disabled reason"))
    # The current run of failed attempts (reset by any success): what disabling is decided on.
    consecutive_failures = models.PositiveIntegerField(default=0, verbose_name=_("consecutive failures"))
    failing_since = models.DateTimeField(null=True, blank=True, verbose_name=_("failing since"))
    last_success_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last success at"))
    last_failure_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last failure at"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["organization", "-created_at"], name="webhook_endpoint_client_idx")]
        constraints = [
            models.CheckConstraint(condition=~Q(url=""), name="webhook_endpoint_url_not_empty"),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_endpoint_secret_not_empty"),
            models.CheckConstraint(
                condition=Q(disabled_at__isnull=True) | ~Q(disabled_reason=""),
                name="webhook_endpoint_disabled_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return self.url

    @property
    def is_enabled(self) -> bool:
        return self.active and self.disabled_at is None


class WebhookCallbackSecret(SigningSecret):
    """The secret that signs requests to the `callback_url` a client gives with a message; one per client,
    created the first time it is needed or asked for."""

    organization = models.OneToOneField(
        "accounts.ClientOrganization",
        on_delete=models.CASCADE,
        related_name="webhook_callback_secret",
        verbose_name=_("organization"),
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    rotated_at = models.DateTimeField(null=True, blank=True, verbose_name=_("rotated at"))

    class Meta:
        verbose_name = _("webhook callback secret")
        verbose_name_plural = _("webhook callback secrets")
        constraints = [models.CheckConstraint(condition=~Q(secret=""), name="webhook_callback_secret_not_empty")]

    def __str__(self) -> str:
        return f"Callback secret of {self.organization_id}"


class WebhookEvent(models.Model):
    """Something that happened to a client's message, exactly as it is sent: `body` is the JSON every attempt
    posts (byte for byte, so a receiver can deduplicate on `id` and retries verify the same way)."""

    public_id = models.CharField(_("event id"), max_length=40, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.ClientOrganization", on_delete=models.CASCADE, related_name="+", verbose_name=_("organization")
    )
    # Kept when a message is removed: the event is a record of what the client was told.
    message = models.ForeignKey(
        "messaging.Message",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="webhook_events",
        verbose_name=_("message"),
    )
    type = models.CharField(max_length=32, choices=WebhookEventType.choices, verbose_name=_("type"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))
    # Encrypted at rest: it carries the recipient's number.
    body = EncryptedTextField(editable=False, verbose_name=_("body"))

    class Meta:
        verbose_name = _("webhook event")
        verbose_name_plural = _("webhook events")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["organization", "-created_at"], name="webhook_event_client_idx"),
            models.Index(fields=["created_at"], name="webhook_event_created_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=WebhookEventType.values), name="webhook_event_type_valid"),
            models.CheckConstraint(condition=Q(public_id__startswith="evt_"), name="webhook_event_id_prefixed"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} {self.type}"


class WebhookDelivery(models.Model):
    """One event owed to one target. Pending until a 2xx answer (succeeded), until its retry window ends (failed),
    or until its endpoint is switched off, disabled or deleted (cancelled).

    A worker claims the next attempt by a conditional update that sets `locked_until` and a fresh `claim_token`;
    only the holder of the token records the outcome, so a task that runs twice sends once.
    """

    event = models.ForeignKey(
        WebhookEvent, on_delete=models.CASCADE, related_name="deliveries", verbose_name=_("event")
    )
    target = models.CharField(max_length=12, choices=DeliveryTarget.choices, verbose_name=_("target"))
    # Endpoint deliveries go to the endpoint's current URL; kept (as null) if the endpoint is deleted.
    endpoint = models.ForeignKey(
        WebhookEndpoint,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deliveries",
        verbose_name=_("endpoint"),
    )
    url = models.URLField(
        max_length=500, help_text=_("The target URL when the event was created."), verbose_name=_("url")
    )
    status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING, verbose_name=_("status")
    )
    status_reason = models.CharField(max_length=64, blank=True, verbose_name=_("status reason"))
    attempt_count = models.PositiveIntegerField(default=0, verbose_name=_("attempt count"))
    next_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("next attempt at"))
    retry_until = models.DateTimeField(
        help_text=_("No further attempt is scheduled after this."), verbose_name=_("retry until")
    )
    locked_until = models.DateTimeField(null=True, blank=True, editable=False, verbose_name=_("locked until"))
    claim_token = models.CharField(max_length=32, blank=True, editable=False, verbose_name=_("claim token"))
    last_attempt_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last attempt at"))
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("last status code"))
    last_error = models.CharField(max_length=300, blank=True, verbose_name=_("last error"))
    succeeded_at = models.DateTimeField(null=True, blank=True, verbose_name=_("succeeded at"))
    created_at = models.DateTimeField(default=timezone.now, editable=False, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The sweeper's query: pending deliveries by due time.
            models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due_idx"),
            models.Index(fields=["endpoint", "status"], name="webhook_delivery_endpoint_idx"),
            models.Index(fields=["status", "-created_at"], name="webhook_delivery_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=DeliveryStatus.values), name="webhook_delivery_status_valid"),
            models.CheckConstraint(condition=Q(target__in=DeliveryTarget.values), name="webhook_delivery_target_valid"),
            models.CheckConstraint(
                condition=~Q(status="pending") | Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_scheduled",
            ),
            models.CheckConstraint(
                condition=Q(target="endpoint") | Q(endpoint__isnull=True), name="webhook_delivery_callback_no_endpoint"
            ),
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="webhook_delivery_once_per_endpoint",
            ),
            models.UniqueConstraint(
                fields=["event"], condition=Q(target="callback_url"), name="webhook_delivery_once_per_callback"
            ),
        ]

    def __str__(self) -> str:
        return f"Delivery {self.pk} of {self.event_id} to {self.url} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery: when, where, what came back and how long it took."""

    delivery = models.ForeignKey(
        WebhookDelivery, on_delete=models.CASCADE, related_name="attempts", verbose_name=_("delivery")
    )
    number = models.PositiveIntegerField(
        help_text=_("1 for the delivery's first attempt, 2 for the next..."), verbose_name=_("number")
    )
    started_at = models.DateTimeField(verbose_name=_("started at"))
    url = models.URLField(max_length=500, verbose_name=_("url"))
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices, verbose_name=_("outcome"))
    status_code = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("status code"))
    latency_ms = models.PositiveIntegerField(verbose_name=_("latency ms"))
    error = models.CharField(max_length=300, blank=True, verbose_name=_("error"))
    response_excerpt = models.CharField(
        max_length=500, blank=True, help_text=_("The start of the answer's body."), verbose_name=_("response excerpt")
    )

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique"),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values), name="webhook_attempt_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
