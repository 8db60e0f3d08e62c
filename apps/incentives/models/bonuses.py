"""Bonuses: the staff's rules (with validity) and each bonus paid, once per kind, week and provider."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffRow
from apps.incentives.choices import BonusKind, LeaderboardScope


class BonusRule(StaffRow):
    """A bonus and its conditions, valid for the weeks that start within its period (the newest valid applies).

    - leaderboard: the `amounts` (10⁻⁶ PPT, first place first) go to the top providers by verified segments in the
      week, within `scope`, among those with at least `min_segments` and a score of at least `min_score`;
    - streak: `amounts[0]` to each provider with verified deliveries and nothing voided on every day of the week;
    - uptime: `amounts[0]` to each provider online at least `min_uptime_bp` of the week (basis points).
    """

    kind = models.CharField(max_length=12, choices=BonusKind.choices, verbose_name=_("kind"))
    amounts = models.JSONField(
        help_text=_("10⁻⁶ PPT: one per rank for a leaderboard, else one amount, e.g. [5000000]."),
        verbose_name=_("amounts"),
    )
    scope = models.CharField(
        max_length=10, choices=LeaderboardScope.choices, default=LeaderboardScope.NETWORK, verbose_name=_("scope")
    )
    min_segments = models.PositiveIntegerField(default=0, verbose_name=_("min segments"))
    min_score = models.PositiveSmallIntegerField(
        default=0, help_text=_("Provider score, 0-1000."), verbose_name=_("min score")
    )
    min_uptime_bp = models.PositiveSmallIntegerField(default=9_000, verbose_name=_("min uptime bp"))

    class Meta:
        verbose_name = _("bonus rule")
        verbose_name_plural = _("bonus rules")
        ordering = ["kind", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=BonusKind.values), name="incentives_bonus_rule_kind_valid"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="incentives_bonus_rule_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus from {self.valid_from:%Y-%m-%d}"


class Bonus(models.Model):
    """A bonus paid: the posted ledger transfer `bonus:<kind>:<week>:provider:<id>`, once (unique kind, week and
    provider), with what earned it."""

    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="bonuses", verbose_name=_("provider")
    )
    kind = models.CharField(max_length=12, choices=BonusKind.choices, verbose_name=_("kind"))
    period = models.CharField(max_length=10, help_text=_("ISO week, e.g. 2026-W49."), verbose_name=_("period"))
    rule = models.ForeignKey(BonusRule, on_delete=models.PROTECT, related_name="bonuses", verbose_name=_("rule"))
    group = models.CharField(
        max_length=32, blank=True, help_text=_("The carrier or province ranked within."), verbose_name=_("group")
    )
    rank = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("rank"))
    amount = models.BigIntegerField(verbose_name=_("amount"))
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))
    transfer_id = models.CharField(max_length=64, unique=True, verbose_name=_("transfer id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("bonus")
        verbose_name_plural = _("bonuses")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "period", "provider"], name="incentives_bonus_once_per_week"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_bonus_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} bonus {self.period} for provider {self.provider_id}: {self.amount}"
