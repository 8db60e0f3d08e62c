"""Dynamic pricing: the staff's bounds per carrier route, and the multiplier computed for each route (history)."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffRow
from apps.incentives.choices import Route


class SurgeBounds(StaffRow):
    """Floor and ceiling of a carrier route's multiplier, in basis points (10000 = ×1), valid from `valid_from`
    until `valid_until` (open: until further notice); the newest valid row applies. Without one, the settings'
    INCENTIVES_SURGE_FLOOR_BP and INCENTIVES_SURGE_CEILING_BP apply."""

    carrier = models.CharField(
        max_length=16, help_text=_("The recipient's carrier (smart, metfone, cellcard…)."), verbose_name=_("carrier")
    )
    route = models.CharField(max_length=16, choices=Route.choices, verbose_name=_("route"))
    floor_bp = models.PositiveIntegerField(default=10_000, verbose_name=_("floor bp"))
    ceiling_bp = models.PositiveIntegerField(default=20_000, verbose_name=_("ceiling bp"))

    class Meta:
        verbose_name = _("surge bounds")
        verbose_name_plural = _("surge bounds")
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

    carrier = models.CharField(max_length=16, verbose_name=_("carrier"))
    route = models.CharField(max_length=16, choices=Route.choices, verbose_name=_("route"))
    demand_segments = models.PositiveIntegerField(
        help_text=_("Queued and in-flight segments to this carrier."), verbose_name=_("demand segments")
    )
    supply_segments = models.PositiveIntegerField(
        help_text=_("Spare hourly capacity of online SIMs on the route."), verbose_name=_("supply segments")
    )
    raw_bp = models.PositiveIntegerField(
        help_text=_("Demand over supply, bounded, before smoothing."), verbose_name=_("raw bp")
    )
    smoothed_bp = models.PositiveIntegerField(
        help_text=_("Exponentially weighted moving average of raw_bp."), verbose_name=_("smoothed bp")
    )
    multiplier_bp = models.PositiveIntegerField(
        help_text=_("In force: moves only when smoothed_bp passes the step."), verbose_name=_("multiplier bp")
    )
    computed_at = models.DateTimeField(default=timezone.now, verbose_name=_("computed at"))

    class Meta:
        verbose_name = _("route multiplier")
        verbose_name_plural = _("route multipliers")
        ordering = ["-computed_at", "-pk"]
        indexes = [models.Index(fields=["carrier", "route", "-computed_at"], name="incentives_multiplier_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(multiplier_bp__gt=0), name="incentives_multiplier_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier}/{self.route}: ×{self.multiplier_bp / 10_000:.2f} at {self.computed_at:%Y-%m-%d %H:%M}"
