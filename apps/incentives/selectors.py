"""Reads of incentives' tables for the API and the admin."""

from typing import Any

from django.utils import timezone

from apps.incentives.pricing import effective_price, prices_in_force
from apps.incentives.surge import route_multiplier_bp
from apps.providers.choices import Carrier, MatchPriority
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal

PPT_SCALE = LEDGER_SCALES[LedgerCode.PPT]


def _amount(amount: int) -> dict[str, Any]:
    return {"amount": amount, "decimal": amount_decimal(amount, PPT_SCALE)}


def _time(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def price_list() -> dict[str, Any]:
    """Every price in force now, with each recipient carrier's multiplier and effective per-segment price."""
    now = timezone.now()
    in_force = prices_in_force(now=now)
    priorities = {priority: position for position, priority in enumerate(MatchPriority.values)}
    prices = []
    for (priority, route), row in sorted(in_force.items(), key=lambda item: (priorities[item[0][0]], item[0][1])):
        carriers = []
        for carrier in Carrier.values:
            multiplier = route_multiplier_bp(carrier=carrier, route=route)
            carriers.append(
                {
                    "carrier": carrier,
                    "multiplier_bp": multiplier,
                    "per_segment": _amount(effective_price(row.amount, multiplier)),
                }
            )
        prices.append(
            {
                "priority": priority,
                "route": route,
                "base": _amount(row.amount),
                "valid_from": _time(row.valid_from),
                "valid_until": _time(row.valid_until),
                "carriers": carriers,
            }
        )
    return {"currency": "PPT", "unit": "0.000001 PPT", "as_of": _time(now), "prices": prices}


def rewards_pending_total() -> dict[str, int]:
    """Rewards booked and waiting for their verification window to end: how many and how much (10⁻⁶ PPT)."""
    from django.db.models import Count, Sum

    from apps.incentives.choices import RewardStatus
    from apps.incentives.models import Reward

    row = Reward.objects.filter(status=RewardStatus.PENDING).aggregate(count=Count("id"), amount=Sum("amount"))
    return {"count": row["count"], "amount": row["amount"] or 0}


def payouts_open_total() -> dict[str, int]:
    """Payouts not final yet (awaiting approval, queued, sending, outcome unknown): how many and how much PPT."""
    from django.db.models import Count, Sum

    from apps.incentives.models import Payout
    from apps.incentives.payouts.choices import OPEN_STATUSES

    row = Payout.objects.filter(status__in=OPEN_STATUSES).aggregate(count=Count("id"), amount=Sum("amount"))
    return {"count": row["count"], "amount": row["amount"] or 0}


def earnings_by_provider(*, provider_ids: list[int], since: Any) -> dict[int, dict[str, int]]:
    """Rewards booked since `since` per provider and status (pending, posted; voided ones left out), in 10⁻⁶ PPT."""
    from django.db.models import Sum

    from apps.incentives.choices import RewardStatus
    from apps.incentives.models import Reward

    rows = (
        Reward.objects.filter(provider_id__in=provider_ids, booked_at__gte=since)
        .exclude(status=RewardStatus.VOIDED)
        .values("provider_id", "status")
        .annotate(amount=Sum("amount"))
        .order_by()
    )
    earnings: dict[int, dict[str, int]] = {}
    for row in rows:
        earnings.setdefault(row["provider_id"], {"pending": 0, "posted": 0})[row["status"]] = row["amount"] or 0
    return earnings


def payouts_of_provider_by_status(*, provider_id: int) -> dict[str, dict[str, int]]:
    """The provider's payouts per status: how many and how much PPT (10⁻⁶ PPT), for its admin page."""
    from django.db.models import Count, Sum

    from apps.incentives.models import Payout

    rows = (
        Payout.objects.filter(provider_id=provider_id)
        .values("status")
        .annotate(count=Count("id"), amount=Sum("amount"))
        .order_by()
    )
    return {row["status"]: {"count": row["count"], "amount": row["amount"] or 0} for row in rows}
