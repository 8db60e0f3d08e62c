from django.db import models
from django.utils.translation import gettext_lazy as _


class MessageRollup(models.Model):
    """Message figures per hour, kept up to date as messages move, so the dashboard never scans the messages.

    One row per hour, event (`submitted`, or the status reached: sent, delivered, failed, expired, rejected, unknown)
    and key. Four kinds of key share the table (the others left at their empty value):
    - the network's total: no key at all (what the dashboard's figures and charts read, through a partial index);
    - the network's row per carrier and priority: `carrier` and `priority` of the messages;
    - a client's row: `organization_id` (the network rows have 0);
    - a delivery-latency row: event `delivered`, `carrier` and `latency_bucket` (the index of the submit→delivered
      bucket in `apps.backoffice.rollup.LATENCY_BUCKETS`; -1 on the other rows), what the percentiles are read from.
    An event lands in the hour it happened (submitted: `created_at`; delivered: `delivered_at`; others: when the
    message reached that status). Amounts are in 10⁻⁶ PPT; `latency_ms` is the sum over the delivered messages.
    """

    hour = models.DateTimeField(verbose_name=_("hour"))
    event = models.CharField(max_length=10, verbose_name=_("event"))
    carrier = models.CharField(max_length=20, blank=True, verbose_name=_("carrier"))
    priority = models.CharField(max_length=6, blank=True, verbose_name=_("priority"))
    organization_id = models.BigIntegerField(default=0, verbose_name=_("organization id"))
    latency_bucket = models.SmallIntegerField(default=-1, verbose_name=_("latency bucket"))
    messages = models.BigIntegerField(default=0, verbose_name=_("messages"))
    segments = models.BigIntegerField(default=0, verbose_name=_("segments"))
    charged = models.BigIntegerField(default=0, verbose_name=_("charged"))
    latency_ms = models.BigIntegerField(default=0, verbose_name=_("latency ms"))

    class Meta:
        verbose_name = _("message rollup")
        verbose_name_plural = _("message rollups")
        constraints = [
            models.UniqueConstraint(
                fields=["hour", "event", "carrier", "priority", "organization_id", "latency_bucket"],
                name="backoffice_rollup_one_row_per_key",
            ),
        ]
        indexes = [
            models.Index(fields=["organization_id", "hour"], name="backoffice_rollup_client_idx"),
            # Covering (PostgreSQL): the dashboard's figures and charts are read from the index alone.
            models.Index(
                fields=["hour", "event"],
                include=["messages", "charged"],
                condition=models.Q(carrier="", priority="", organization_id=0, latency_bucket=-1),
                name="backoffice_rollup_total_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hour:%Y-%m-%d %H}h {self.event}: {self.messages}"
