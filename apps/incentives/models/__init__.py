"""The incentives app's models, one module per area: per-segment prices, payouts."""

from apps.incentives.models.payouts import Payout, PayoutAccount, PayoutRate
from apps.incentives.models.prices import Price

__all__ = ["Payout", "PayoutAccount", "PayoutRate", "Price"]
