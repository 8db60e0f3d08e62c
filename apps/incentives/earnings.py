"""Reads for the provider app: a provider's earnings and reward history."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet, Sum
from django.utils import timezone

from apps.incentives.choices import ClawbackStatus, RewardStatus
from apps.incentives.models import Clawback, Reward
from apps.providers.models import Provider
from apps.tokens.selectors import ZERO, account_balance
from apps.tokens.services import account_open


@dataclass(frozen=True, slots=True)
class Earnings:
    """In 10⁻⁶ PPT. `pending`: rewards in their verification window; `available`: what the provider may cash out
    (the ledger's word); `lifetime`: every reward posted; `this_week`: rewards booked since Monday (local time),
    pending or posted; `owed`: clawbacks still to repay from future rewards."""

    pending: int
    available: int
    lifetime: int
    this_week: int
    owed: int


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of `now`'s week, local time (Cambodia's)."""
    local = timezone.localtime(now)
    return (local - timedelta(days=local.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)


def provider_earnings(*, provider: Provider, now: datetime | None = None) -> Earnings:
    now = now or timezone.now()
    balance = account_balance(account_open(provider=provider)) if provider.pk else ZERO
    rewards = Reward.objects.filter(provider=provider)
    lifetime = rewards.filter(status=RewardStatus.POSTED).aggregate(total=Sum("amount"))["total"] or 0
    week = (
        rewards.filter(
            status__in=(RewardStatus.PENDING, RewardStatus.POSTED), booked_at__gte=week_start(now)
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    open_debts = Clawback.objects.filter(provider=provider, status=ClawbackStatus.OPEN).aggregate(
        amount=Sum("amount"), recovered=Sum("recovered")
    )
    owed = (open_debts["amount"] or 0) - (open_debts["recovered"] or 0)
    return Earnings(
        pending=balance.pending_in, available=balance.available, lifetime=lifetime, this_week=week, owed=owed
    )


def provider_rewards(*, provider: Provider, status: str | None = None) -> QuerySet[Reward]:
    """The provider's rewards, newest first (one per delivered job), for the cursor-paginated history."""
    rewards = Reward.objects.filter(provider=provider).only(
        "pk", "job_id", "message_id", "amount", "status", "route", "segments", "surge_bp", "share_bp",
        "booked_at", "due_at", "settled_at", "void_reason", "clawback_recovered",
    )  # fmt: skip
    return rewards.filter(status=status) if status else rewards
