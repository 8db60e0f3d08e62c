"""The incentives app's models, one module per area."""

from apps.incentives.models.payouts import Payout, PayoutAccount, PayoutRate

__all__ = ["Payout", "PayoutAccount", "PayoutRate"]
