"""Bonuses: the staff's rules (with validity) and each bonus paid, once per kind, week and provider."""

from django.db import models
from django.db.models import Q

from apps.core.models import StaffRow
from apps.incentives.choices import BonusKind, LeaderboardScope


class BonusRule(StaffRow):
    """A bonus and its conditions, valid for the weeks that start within its period (the newest valid applies).

    - leaderboard: the `amounts` (10⁻⁶ PPT, first place first) go to the top providers by verified segments in the
      week, within `scope`, among those with at least `min_segments` and a score of at least `min_score`;
    - streak: `amounts[0]` to each provider with verified deliveries and nothing voided on every day of the week;
    - uptime: `amounts[0]` to each provider online at least `min_uptime_bp` of the week (basis points).
    """

    kind = models.CharField(max_length=12, choices=BonusKind.choices)
    amounts = models.JSONField(help_text="10⁻⁶ PPT: one per rank for a leaderboard, else one amount, e.g. [5000000].")
    scope = models.CharField(max_length=10, choices=LeaderboardScope.choices, default=LeaderboardScope.NETWORK)
    min_segments = models.PositiveIntegerField(default=0)
    min_score = models.PositiveSmallIntegerField(default=0, help_text="Provider score, 0-1000.")
    min_uptime_bp = models.PositiveSmallIntegerField(default=9_000)

    class Meta:
        ordering = ["kind", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BonusKind.values), name="incentives_bonus_rule_kind_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus from {self.valid_from:%Y-%m-%d}"


class Bonus(models.Model):
    """A bonus paid: the posted ledger transfer `bonus:<kind>:<week>:provider:<id>`, once (unique kind, week and
    provider), with what earned it."""

    provider = models.ForeignKey("providers.Provider", on_delete=models.PROTECT, related_name="bonuses")
    kind = models.CharField(max_length=12, choices=BonusKind.choices)
    period = models.CharField(max_length=10, help_text="ISO week, e.g. 2026-W49.")
    rule = models.ForeignKey(BonusRule, on_delete=models.PROTECT, related_name="bonuses")
    group = models.CharField(max_length=32, blank=True, help_text="The carrier or province ranked within.")
    rank = models.PositiveSmallIntegerField(null=True, blank=True)
    amount = models.BigIntegerField()
    details = models.JSONField(default=dict, blank=True)
    transfer_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "bonuses"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period", "provider"], name="incentives_bonus_once_per_week"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_bonus_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus {self.period} for provider {self.provider_id}: {self.amount}"
