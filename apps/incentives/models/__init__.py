"""Incentives' models, one module per area: rewards (`rewards`), route multipliers
(`multipliers`), bonuses (`bonuses`)."""

from apps.incentives.models.bonuses import Bonus, BonusRule
from apps.incentives.models.multipliers import RouteMultiplier, SurgeBounds
from apps.incentives.models.rewards import Clawback, Reward, RewardRule

__all__ = ["Bonus", "BonusRule", "Clawback", "Reward", "RewardRule", "RouteMultiplier", "SurgeBounds"]
