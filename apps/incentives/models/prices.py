"""What clients pay per SMS segment, before the route's dynamic multiplier (`apps.incentives.surge`)."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffRow
from apps.incentives.choices import Route
from apps.providers.choices import MatchPriority


class Price(StaffRow):
    """The base price of one SMS segment of a `priority` on a `route`, in 10⁻⁶ PPT, from `valid_from` until
    `valid_until` (open: until further notice). Staff add rows; a row is never edited once it has applied (its
    `valid_from` has passed: messages were quoted with it) — add a new one. Where validity periods overlap, the one
    that started last applies (like `payments.ExchangeRate`). With no row in force for a priority and route, messages
    are free (a system check warns in production)."""

    priority = models.CharField(max_length=6, choices=MatchPriority.choices, verbose_name=_("priority"))
    route = models.CharField(max_length=13, choices=Route.choices, verbose_name=_("route"))
    amount = models.BigIntegerField(
        help_text=_("Per segment, in 10⁻⁶ PPT (1 PPT = 1,000,000)."), verbose_name=_("amount")
    )

    class Meta:
        verbose_name = _("price")
        verbose_name_plural = _("prices")
        ordering = ["priority", "route", "-valid_from"]
        indexes = [models.Index(fields=["-valid_from"], name="incentives_price_from_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="incentives_price_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="incentives_price_period_valid",
            ),
            models.CheckConstraint(
                condition=Q(priority__in=MatchPriority.values), name="incentives_price_priority_valid"
            ),
            models.CheckConstraint(condition=Q(route__in=Route.values), name="incentives_price_route_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.priority} {self.route}: {self.amount} µPPT/segment from {self.valid_from:%Y-%m-%d %H:%M}"
