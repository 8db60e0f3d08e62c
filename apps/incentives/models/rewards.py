"""Rewards per delivered segment: the staff's rates, the reward booked for each delivered job, and clawbacks."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import StaffRow
from apps.incentives.choices import ClawbackStatus, RewardStatus, Route
from apps.providers.choices import MatchPriority


class RewardRule(StaffRow):
    """What a provider earns per delivered segment on a route and priority, from `valid_from` until `valid_until`
    (open: until further notice). Staff set rules; a rule is never edited once a reward used it — add a new row.
    Where validity periods overlap, the one that started last applies (as with exchange rates)."""

    route = models.CharField(max_length=16, choices=Route.choices, verbose_name=_("route"))
    priority = models.CharField(max_length=6, choices=MatchPriority.choices, verbose_name=_("priority"))
    amount_per_segment = models.BigIntegerField(
        help_text=_("PPT in the ledger's smallest unit (10⁻⁶ PPT)."), verbose_name=_("amount per segment")
    )

    class Meta:
        verbose_name = _("reward rule")
        verbose_name_plural = _("reward rules")
        ordering = ["route", "priority", "-valid_from"]
        indexes = [models.Index(fields=["route", "priority", "-valid_from"], name="incentives_rule_lookup_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount_per_segment__gte=0), name="incentives_rule_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=F("valid_from")),
                name="incentives_rule_period_valid",
            ),
            models.CheckConstraint(condition=Q(route__in=Route.values), name="incentives_rule_route_valid"),
            models.CheckConstraint(
                condition=Q(priority__in=MatchPriority.values), name="incentives_rule_priority_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.route}/{self.priority}: {self.amount_per_segment} per segment from {self.valid_from:%Y-%m-%d}"


class Reward(models.Model):
    """The reward of one delivered job, booked once (unique job; ledger transfer `reward:job:<id>`) as a pending
    transfer from the platform's rewards account to the provider, posted at `due_at` (after the verification window)
    or voided by a fraud strike before then. The figures it was computed from are kept: the quote records what it
    used."""

    job = models.OneToOneField("messaging.Job", on_delete=models.PROTECT, related_name="+", verbose_name=_("job"))
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.PROTECT, related_name="+", verbose_name=_("message")
    )
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="rewards", verbose_name=_("provider")
    )
    carrier = models.CharField(max_length=16, help_text=_("The recipient's carrier."), verbose_name=_("carrier"))
    route = models.CharField(max_length=16, choices=Route.choices, verbose_name=_("route"))
    priority = models.CharField(max_length=6, choices=MatchPriority.choices, verbose_name=_("priority"))
    segments = models.PositiveSmallIntegerField(verbose_name=_("segments"))
    rule = models.ForeignKey(
        RewardRule, null=True, blank=True, on_delete=models.PROTECT, related_name="rewards", verbose_name=_("rule")
    )
    amount_per_segment = models.BigIntegerField(verbose_name=_("amount per segment"))
    surge_bp = models.PositiveIntegerField(
        help_text=_("The route's multiplier then, in basis points (10000 = ×1)."), verbose_name=_("surge bp")
    )
    share_bp = models.PositiveIntegerField(
        help_text=_("The provider's share (below 10000 while establishing)."), verbose_name=_("share bp")
    )
    establishing = models.BooleanField(default=False, verbose_name=_("establishing"))
    amount = models.BigIntegerField(help_text=_("Booked, in 10⁻⁶ PPT."), verbose_name=_("amount"))
    transfer_id = models.CharField(max_length=64, unique=True, verbose_name=_("transfer id"))
    status = models.CharField(
        max_length=8, choices=RewardStatus.choices, default=RewardStatus.PENDING, verbose_name=_("status")
    )
    booked_at = models.DateTimeField(default=timezone.now, verbose_name=_("booked at"))
    due_at = models.DateTimeField(
        help_text=_("When the verification window ends and the reward posts."), verbose_name=_("due at")
    )
    settled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("settled at"))
    void_reason = models.CharField(max_length=64, blank=True, verbose_name=_("void reason"))
    # The strike that voided it: when staff clear that strike (and no other standing one covers the reward), the
    # reward is booked again under a new transfer id (`apps.incentives.strike_clearing`).
    voided_by = models.ForeignKey(
        "delivery.FraudFlag",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        verbose_name=_("voided by"),
    )
    clawback_recovered = models.BigIntegerField(
        default=0, help_text=_("Netted from this reward for earlier debts."), verbose_name=_("clawback recovered")
    )

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["-booked_at", "-pk"]
        indexes = [
            # The posting sweep: pending rewards whose window has ended, oldest first.
            models.Index(fields=["due_at"], condition=Q(status="pending"), name="incentives_reward_due_idx"),
            # The provider's history and totals, and voiding a provider's pending rewards on a strike.
            models.Index(fields=["provider", "status", "-booked_at"], name="incentives_reward_provider_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_reward_amount_positive"),
            models.CheckConstraint(
                condition=Q(clawback_recovered__gte=0) & Q(clawback_recovered__lte=F("amount")),
                name="incentives_reward_recovered_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return f"reward for job {self.job_id}: {self.amount} ({self.status})"


class Clawback(models.Model):
    """A reward struck after it posted: its amount is a debt netted from the provider's next rewards as they post,
    once (one clawback per struck reward; each recovery is the ledger transfer `clawback:job:<id of the reward it
    is netted from>`), until `recovered` reaches `amount`."""

    reward = models.OneToOneField(Reward, on_delete=models.PROTECT, related_name="clawback", verbose_name=_("reward"))
    provider = models.ForeignKey(
        "providers.Provider", on_delete=models.PROTECT, related_name="clawbacks", verbose_name=_("provider")
    )
    amount = models.BigIntegerField(verbose_name=_("amount"))
    recovered = models.BigIntegerField(default=0, verbose_name=_("recovered"))
    status = models.CharField(
        max_length=10, choices=ClawbackStatus.choices, default=ClawbackStatus.OPEN, verbose_name=_("status")
    )
    reason = models.CharField(max_length=64, verbose_name=_("reason"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    recovered_at = models.DateTimeField(null=True, blank=True, verbose_name=_("recovered at"))
    # Staff cleared the strike: nothing more is recovered, and what was is refunded (`refunded`, posted at once).
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    refunded = models.BigIntegerField(default=0, verbose_name=_("refunded"))

    class Meta:
        verbose_name = _("clawback")
        verbose_name_plural = _("clawbacks")
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["provider", "status", "created_at"], name="incentives_clawback_open_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="incentives_clawback_amount_positive"),
            models.CheckConstraint(
                condition=Q(recovered__gte=0) & Q(recovered__lte=F("amount")),
                name="incentives_clawback_recovered_within_amount",
            ),
            models.CheckConstraint(condition=Q(refunded__gte=0), name="incentives_clawback_refunded_not_negative"),
        ]

    def __str__(self) -> str:
        return f"clawback of job {self.reward.job_id}: {self.recovered}/{self.amount}"
