"""Webhook endpoints, their signing secrets, events, deliveries and attempts.

An event is stored only when someone is to hear about it; each target (an endpoint, or the message's callback URL)
gets one delivery, and each HTTP request for it is an attempt. The delivery row is the truth about what is still
owed: tasks only signal, and a sweeper picks up deliveries whose task was lost.
"""

from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.core.fields import EncryptedCharField, EncryptedTextField
from apps.delivery.webhooks.choices import AttemptOutcome, DeliveryStatus, DeliveryTarget, WebhookEventType


class SigningSecret(models.Model):
    """A secret the client uses to verify our signatures. After a rotation the previous secret also signs until
    `previous_secret_expires_at`, so a client can roll its receivers over without rejecting anything."""

    # Encrypted at rest (apps.core.crypto): we must sign with them, so they are not hashed.
    secret = EncryptedCharField(max_length=100, editable=False)
    previous_secret = EncryptedCharField(max_length=100, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

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
        "accounts.ClientOrganization", on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    event_types = models.JSONField(default=list, help_text="The event types this endpoint receives.")
    active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)
    # The current run of failed attempts (reset by any success): what disabling is decided on.
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
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
        "accounts.ClientOrganization", on_delete=models.CASCADE, related_name="webhook_callback_secret"
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    rotated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(secret=""), name="webhook_callback_secret_not_empty")]

    def __str__(self) -> str:
        return f"Callback secret of {self.organization_id}"


class WebhookEvent(models.Model):
    """Something that happened to a client's message, exactly as it is sent: `body` is the JSON every attempt
    posts (byte for byte, so a receiver can deduplicate on `id` and retries verify the same way)."""

    public_id = models.CharField("event id", max_length=40, unique=True, editable=False)
    organization = models.ForeignKey("accounts.ClientOrganization", on_delete=models.CASCADE, related_name="+")
    # Kept when a message is removed: the event is a record of what the client was told.
    message = models.ForeignKey(
        "messaging.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="webhook_events"
    )
    type = models.CharField(max_length=32, choices=WebhookEventType.choices)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    # Encrypted at rest: it carries the recipient's number.
    body = EncryptedTextField(editable=False)

    class Meta:
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

    event = models.ForeignKey(WebhookEvent, on_delete=models.CASCADE, related_name="deliveries")
    target = models.CharField(max_length=12, choices=DeliveryTarget.choices)
    # Endpoint deliveries go to the endpoint's current URL; kept (as null) if the endpoint is deleted.
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    url = models.URLField(max_length=500, help_text="The target URL when the event was created.")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    status_reason = models.CharField(max_length=64, blank=True)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    retry_until = models.DateTimeField(help_text="No further attempt is scheduled after this.")
    locked_until = models.DateTimeField(null=True, blank=True, editable=False)
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "webhook deliveries"
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

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField(help_text="1 for the delivery's first attempt, 2 for the next...")
    started_at = models.DateTimeField()
    url = models.URLField(max_length=500)
    outcome = models.CharField(max_length=20, choices=AttemptOutcome.choices)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    latency_ms = models.PositiveIntegerField()
    error = models.CharField(max_length=300, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True, help_text="The start of the answer's body.")

    class Meta:
        ordering = ["delivery", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="webhook_attempt_number_unique"),
            models.CheckConstraint(
                condition=Q(outcome__in=AttemptOutcome.values), name="webhook_attempt_outcome_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Attempt {self.number} of delivery {self.delivery_id}: {self.outcome}"
