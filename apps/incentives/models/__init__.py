"""Incentives' models, one module per area: rewards (`rewards`) and route multipliers (`multipliers`)."""

from apps.incentives.models.multipliers import RouteMultiplier, SurgeBounds
from apps.incentives.models.rewards import Clawback, Reward, RewardRule

__all__ = ["Clawback", "Reward", "RewardRule", "RouteMultiplier", "SurgeBounds"]
