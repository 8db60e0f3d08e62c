"""The delivery app's models: reports, fraud flags, canaries and daily rates here; webhooks in their own package,
imported here, where Django looks for them."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.delivery.choices import CanaryStatus, FraudRule, ReportStatus, SendError
from apps.delivery.webhooks.models import (
    WebhookAttempt,
    WebhookCallbackSecret,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)

__all__ = [
    "Canary",
    "DeliveryReport",
    "DeliveryStat",
    "FraudFlag",
    "WebhookAttempt",
    "WebhookCallbackSecret",
    "WebhookDelivery",
    "WebhookEndpoint",
    "WebhookEvent",
]


class DeliveryReport(models.Model):
    """What a provider's phone said about a job: sent, delivered or failed. One per job and status (reports are
    idempotent: a phone that queued reports offline may send them again). Kept even when it changed nothing, such
    as a report for a lease that had already ended, with flags saying what was odd about it."""

    job = models.ForeignKey("messaging.Job", on_delete=models.CASCADE, related_name="reports")
    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="reports")
    status = models.CharField(max_length=10, choices=ReportStatus.choices)
    error_code = models.CharField(max_length=20, choices=SendError.choices, blank=True)
    occurred_at = models.DateTimeField(help_text="When the phone says it happened.")
    received_at = models.DateTimeField(default=timezone.now)
    parts = models.PositiveSmallIntegerField(null=True, blank=True)
    signed = models.BooleanField(default=False)
    applied = models.BooleanField(default=False, help_text="Whether it changed the job and message.")
    flags = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["job", "status"], name="report_once_per_job_status"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
        ]
        indexes = [models.Index(fields=["provider", "-received_at"], name="report_provider_received_idx")]

    def __str__(self) -> str:
        return f"{self.status} for job {self.job_id}"


class FraudFlag(models.Model):
    """Something suspicious a provider did, with the evidence. A strike counts toward automatic suspension
    (FRAUD_STRIKES_TO_SUSPEND within FRAUD_STRIKE_WINDOW_DAYS); other flags are for staff to read."""

    provider = models.ForeignKey("providers.Provider", on_delete=models.CASCADE, related_name="fraud_flags")
    rule = models.CharField(max_length=30, choices=FraudRule.choices)
    strike = models.BooleanField(default=False)
    job = models.ForeignKey("messaging.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # Staff may clear a strike found to be a false alarm; it then stops counting.
    cleared_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["provider", "-created_at"], name="fraud_provider_created_idx")]
        constraints = [
            # A rule flags a job once, however often it is evaluated.
            models.UniqueConstraint(
                fields=["provider", "rule", "job"], condition=Q(job__isnull=False), name="fraud_flag_once_per_job"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rule} ({'strike' if self.strike else 'flag'}) for provider {self.provider_id}"


class Canary(models.Model):
    """An audit message: sent to a phone the network owns, looking like any other job. If a provider reports it
    delivered but the audit phone never receives it, that is proof of a fake report."""

    message = models.OneToOneField("messaging.Message", on_delete=models.CASCADE, related_name="canary")
    nonce = models.CharField(max_length=12, unique=True)
    status = models.CharField(max_length=12, choices=CanaryStatus.choices, default=CanaryStatus.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    judged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "canaries"
        indexes = [models.Index(fields=["status", "created_at"], name="canary_status_created_idx")]

    def __str__(self) -> str:
        return f"Canary {self.nonce} ({self.status})"


class DeliveryStat(models.Model):
    """Outcomes per local day, per provider and per carrier (provider empty: the carrier's total), for fraud rules'
    norms and the admin. Each outcome is counted in its provider's row; the carrier's totals are the sums of those
    rows, refreshed by the periodic fraud scan (`apps.delivery.fraud.delivery_stats_rollup`), so they lag by up to
    one scan."""

    day = models.DateField()
    carrier = models.CharField(max_length=20)
    provider = models.ForeignKey("providers.Provider", null=True, blank=True, on_delete=models.CASCADE)
    delivered = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "carrier", "provider"], name="stat_unique_provider_day"),
            models.UniqueConstraint(
                fields=["day", "carrier"], condition=Q(provider__isnull=True), name="stat_unique_carrier_day"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.carrier} {self.provider_id or 'all'}"

    @property
    def success_rate(self) -> float | None:
        total = self.delivered + self.failed
        return self.delivered / total if total else None
