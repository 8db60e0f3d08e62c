"""Dynamic pricing: the staff's bounds per carrier route, and the multiplier computed for each route (history)."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.core.models import StaffRow
from apps.incentives.choices import Route


class SurgeBounds(StaffRow):
    """Floor and ceiling of a carrier route's multiplier, in basis points (10000 = ×1), valid from `valid_from`
    until `valid_until` (open: until further notice); the newest valid row applies. Without one, the settings'
    INCENTIVES_SURGE_FLOOR_BP and INCENTIVES_SURGE_CEILING_BP apply."""

    carrier = models.CharField(max_length=16, help_text="The recipient's carrier (smart, metfone, cellcard…).")
    route = models.CharField(max_length=16, choices=Route.choices)
    floor_bp = models.PositiveIntegerField(default=10_000)
    ceiling_bp = models.PositiveIntegerField(default=20_000)

    class Meta:
        verbose_name_plural = "surge bounds"
        ordering = ["carrier", "route", "-valid_from"]
        constraints = [
            models.CheckConstraint(condition=Q(floor_bp__gt=0), name="incentives_surge_floor_positive"),
            models.CheckConstraint(
                condition=Q(ceiling_bp__gte=F("floor_bp")), name="incentives_surge_ceiling_ge_floor"
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="incentives_surge_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier}/{self.route}: {self.floor_bp}–{self.ceiling_bp} bp"


class RouteMultiplier(models.Model):
    """One computation of a carrier route's multiplier by the beat task: the demand and supply it saw, the raw
    ratio, the smoothed value and the multiplier then in force (which changes only past the hysteresis step). The
    newest row per route is the current multiplier; older rows are its history."""

    carrier = models.CharField(max_length=16)
    route = models.CharField(max_length=16, choices=Route.choices)
    demand_segments = models.PositiveIntegerField(help_text="Queued and in-flight segments to this carrier.")
    supply_segments = models.PositiveIntegerField(help_text="Spare hourly capacity of online SIMs on the route.")
    raw_bp = models.PositiveIntegerField(help_text="Demand over supply, bounded, before smoothing.")
    smoothed_bp = models.PositiveIntegerField(help_text="Exponentially weighted moving average of raw_bp.")
    multiplier_bp = models.PositiveIntegerField(help_text="In force: moves only when smoothed_bp passes the step.")
    computed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-computed_at", "-pk"]
        indexes = [models.Index(fields=["carrier", "route", "-computed_at"], name="incentives_multiplier_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(multiplier_bp__gt=0), name="incentives_multiplier_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier}/{self.route}: ×{self.multiplier_bp / 10_000:.2f} at {self.computed_at:%Y-%m-%d %H:%M}"
