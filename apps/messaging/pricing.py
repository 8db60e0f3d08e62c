"""What a message costs: the registry messaging asks for per-segment prices.

Prices are staff-set in `apps.incentives` (it owns prices and rewards), which sits above messaging: messaging may not
import it, so incentives registers its tariff here in `IncentivesConfig.ready()` (`tariff_register`). With no tariff
registered a message is free (price 0, nothing held), which is how messaging runs on its own.

A tariff answers for a set of (priority, recipient carrier) pairs at once, so a bulk request costs one lookup, not
one per recipient. Amounts are integers in the ledger's smallest unit (10⁻⁶ PPT), per segment, with the route's
multiplier already applied.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings

from apps.messaging.choices import Priority


@dataclass(frozen=True, slots=True)
class Quote:
    """The per-segment price of a message on each route it could take: `on_net` (a provider on the recipient's
    carrier) and `cross_carrier`."""

    on_net: int = 0
    cross_carrier: int = 0

    def held_for(self, priority: str) -> int:
        """What is held per segment at accept: the dearest route the message could take. Low-priority traffic never
        falls back cross-carrier (matching), so it is held at the on-net price."""
        if priority == Priority.LOW:
            return self.on_net
        return max(self.on_net, self.cross_carrier)

    def for_route(self, *, cross_carrier: bool) -> int:
        return self.cross_carrier if cross_carrier else self.on_net


FREE = Quote()
# tariff(pairs, now) → {(priority, carrier): Quote}; a pair missing from the answer is free.
Tariff = Callable[[Collection[tuple[str, str]], datetime], dict[tuple[str, str], Quote]]

_tariff: Tariff | None = None


def tariff_register(tariff: Tariff | None) -> None:
    """Install the tariff messaging quotes with (None: every message is free). Called from an `AppConfig.ready`."""
    global _tariff
    _tariff = tariff


def quotes(pairs: Collection[tuple[str, str]], *, now: datetime) -> dict[tuple[str, str], Quote]:
    """The quote of each (priority, carrier) pair, in one call to the tariff; free for every pair without one."""
    answer = _tariff(pairs, now) if _tariff is not None and pairs else {}
    return {pair: answer.get(pair, FREE) for pair in pairs}


def sensitive_quote(quote: Quote) -> Quote:
    """The quote of a `sensitive` message: the trusted pool's price, MESSAGE_SENSITIVE_PRICE_BP of the ordinary one
    on each route (rounded up, like the tariff's own multipliers)."""
    bp = settings.MESSAGE_SENSITIVE_PRICE_BP
    return Quote(on_net=-(-quote.on_net * bp // 10_000), cross_carrier=-(-quote.cross_carrier * bp // 10_000))
