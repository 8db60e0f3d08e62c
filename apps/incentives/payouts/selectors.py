"""Payout reads: a provider's payouts, what they may still cash out today, the back office's daily report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.incentives.models import Payout
from apps.incentives.payouts.choices import COUNTED_STATUSES, PayoutMethod
from apps.incentives.payouts.errors import PayoutNotFound
from apps.providers.models import Provider
from apps.tokens.selectors import ZERO, account_balance


def payouts_of(provider: Provider) -> QuerySet[Payout]:
    return Payout.objects.filter(provider=provider)


def payout_of(*, provider: Provider, public_id: str) -> Payout:
    payout = payouts_of(provider).filter(public_id=public_id).first()
    if payout is None:
        raise PayoutNotFound()
    return payout


@dataclass(frozen=True)
class Limits:
    available: int
    minimum: int
    daily_limit: int
    daily_max_count: int
    approval_above: int
    used_today: int
    payouts_today: int

    @property
    def minimums(self) -> dict[str, int]:
        from apps.incentives.payouts.services import minimum_for

        return {method: minimum_for(method) for method in PayoutMethod.values}

    @property
    def remaining_today(self) -> int:
        return max(min(self.daily_limit - self.used_today, self.available), 0)


def payout_limits(*, provider: Provider, now: datetime | None = None) -> Limits:
    from apps.incentives.payouts.services import day_start
    from apps.tokens.services import account_open

    now = now or timezone.now()
    balance = account_balance(account_open(provider=provider)) if provider.pk else ZERO
    today = Payout.objects.filter(
        provider=provider, created_at__gte=day_start(now), status__in=COUNTED_STATUSES
    ).aggregate(amount=Sum("amount"), count=Count("id"))
    return Limits(
        available=balance.available,
        minimum=settings.PAYOUT_MIN_AMOUNT,
        daily_limit=settings.PAYOUT_DAILY_LIMIT,
        daily_max_count=settings.PAYOUT_DAILY_MAX_COUNT,
        approval_above=settings.PAYOUT_APPROVAL_ABOVE,
        used_today=today["amount"] or 0,
        payouts_today=today["count"] or 0,
    )


def payout_daily_report(*, since: datetime | None = None) -> list[dict[str, Any]]:
    """Payouts per day (in TIME_ZONE), method and status: how many, PPT and fiat amounts."""
    payouts = Payout.objects.all()
    if since is not None:
        payouts = payouts.filter(created_at__gte=since)
    return list(
        payouts.annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day", "method", "status", "currency")
        .annotate(count=Count("id"), amount=Sum("amount"), fiat_amount=Sum("fiat_amount"))
        .order_by("-day", "method", "status", "currency")
    )
