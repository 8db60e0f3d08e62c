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
