"""The delivery app's models: reports, fraud flags, canaries and daily rates here; webhooks in their own package,
imported here, where Django looks for them."""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.delivery.choices import CanaryStatus, FraudRule, ReportStatus, SendError, Unsettled
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

    # Neither key has an index of its own: `report_once_per_job_status` leads with the job and
    # `report_provider_received_idx` with the provider (each report would write both).
    job = models.ForeignKey(
        "messaging.Job", on_delete=models.CASCADE, related_name="reports", db_index=False, verbose_name=_("job")
    )
    provider = models.ForeignKey(
        "providers.Provider",
        on_delete=models.CASCADE,
        related_name="reports",
        db_index=False,
        verbose_name=_("provider"),
    )
    status = models.CharField(max_length=10, choices=ReportStatus.choices, verbose_name=_("status"))
    error_code = models.CharField(max_length=20, choices=SendError.choices, blank=True, verbose_name=_("error code"))
    occurred_at = models.DateTimeField(help_text=_("When the phone says it happened."), verbose_name=_("occurred at"))
    received_at = models.DateTimeField(default=timezone.now, verbose_name=_("received at"))
    parts = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("parts"))
    signed = models.BooleanField(default=False, verbose_name=_("signed"))
    applied = models.BooleanField(
        default=False, help_text=_("Whether it changed the job and message."), verbose_name=_("applied")
    )
    flags = models.JSONField(default=list, blank=True, verbose_name=_("flags"))
    # Set by the report's own INSERT, cleared by the settle step that does what it left (apps.delivery.settling).
    unsettled = models.CharField(
        max_length=8,
        choices=Unsettled.choices,
        blank=True,
        default="",
        help_text=_("What a delivery left to settle (capture, reward, outcome); empty once settled."),
        verbose_name=_("unsettled"),
    )

    class Meta:
        verbose_name = _("delivery report")
        verbose_name_plural = _("delivery reports")
        constraints = [
            models.UniqueConstraint(fields=["job", "status"], name="report_once_per_job_status"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="report_status_valid"),
        ]
        indexes = [
            models.Index(fields=["provider", "-received_at"], name="report_provider_received_idx"),
            # Only the few reports waiting for the settle step: its claim and the sweep read them, nothing else.
            models.Index(fields=["received_at"], condition=~Q(unsettled=""), name="report_unsettled_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.status} for job {self.job_id}"


class FraudFlag(models.Model):
    """Something suspicious a provider did, with the evidence. A strike counts toward automatic suspension
    (FRAUD_STRIKES_TO_SUSPEND within FRAUD_STRIKE_WINDOW_DAYS); other flags are for staff to read."""

    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.CASCADE, related_name="fraud_flags", verbose_name=_("provider")
    )
    rule = models.CharField(max_length=30, choices=FraudRule.choices, verbose_name=_("rule"))
    strike = models.BooleanField(default=False, verbose_name=_("strike"))
    job = models.ForeignKey(
        "messaging.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("job")
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    # Staff may clear a strike found to be a false alarm; it then stops counting.
    cleared_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cleared at"))

    class Meta:
        verbose_name = _("fraud flag")
        verbose_name_plural = _("fraud flags")
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

    message = models.OneToOneField(
        "messaging.Message", on_delete=models.CASCADE, related_name="canary", verbose_name=_("message")
    )
    nonce = models.CharField(max_length=12, unique=True, verbose_name=_("nonce"))
    status = models.CharField(
        max_length=12, choices=CanaryStatus.choices, default=CanaryStatus.PENDING, verbose_name=_("status")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    confirmed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("confirmed at"))
    judged_at = models.DateTimeField(null=True, blank=True, verbose_name=_("judged at"))

    class Meta:
        verbose_name = _("canary")
        verbose_name_plural = _("canaries")
        indexes = [models.Index(fields=["status", "created_at"], name="canary_status_created_idx")]

    def __str__(self) -> str:
        return f"Canary {self.nonce} ({self.status})"


class DeliveryStat(models.Model):
    """Outcomes per local day, per provider and per carrier (provider empty: the carrier's total), for fraud rules'
    norms and the admin. Each outcome is counted in its provider's row; the carrier's totals are the sums of those
    rows, refreshed by the periodic fraud scan (`apps.delivery.fraud.delivery_stats_rollup`), so they lag by up to
    one scan."""

    day = models.DateField(verbose_name=_("day"))
    carrier = models.CharField(max_length=20, verbose_name=_("carrier"))
    provider = models.ForeignKey(
        "providers.Provider", null=True, blank=True, on_delete=models.CASCADE, verbose_name=_("provider")
    )
    delivered = models.PositiveIntegerField(default=0, verbose_name=_("delivered"))
    failed = models.PositiveIntegerField(default=0, verbose_name=_("failed"))

    class Meta:
        verbose_name = _("delivery stat")
        verbose_name_plural = _("delivery stats")
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
