from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.delivery.choices import ReportStatus, SendError


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
