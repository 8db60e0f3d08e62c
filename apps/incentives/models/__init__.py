"""The incentives app's models, one module per area: per-segment prices (`prices`), rewards (`rewards`), route
multipliers (`multipliers`), bonuses (`bonuses`), payouts (`payouts`)."""

from apps.incentives.models.bonuses import Bonus, BonusRule
from apps.incentives.models.multipliers import RouteMultiplier, SurgeBounds
from apps.incentives.models.payouts import Payout, PayoutAccount, PayoutRate
from apps.incentives.models.prices import Price
from apps.incentives.models.rewards import Clawback, Reward, RewardRule

__all__ = [
    "Bonus",
    "BonusRule",
    "Clawback",
    "Payout",
    "PayoutAccount",
    "PayoutRate",
    "Price",
    "Reward",
    "RewardRule",
    "RouteMultiplier",
    "SurgeBounds",
]
