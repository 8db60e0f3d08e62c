from django.db import models


class Route(models.TextChoices):
    """How a message reaches its recipient: from a provider on the recipient's own carrier, or from another one."""

    ON_NET = "on_net", "On-net (provider's carrier = recipient's)"
    CROSS_CARRIER = "cross_carrier", "Cross-carrier"


class RewardStatus(models.TextChoices):
    """A reward is pending (held in the ledger) through its verification window, then posted, or voided by a fraud
    strike inside the window."""

    PENDING = "pending", "Pending (verification window)"
    POSTED = "posted", "Posted"
    VOIDED = "voided", "Voided"


class ClawbackStatus(models.TextChoices):
    """A debt booked by a strike on an already posted reward: open until future rewards have repaid it in full;
    cancelled (what was repaid refunded) when staff clear the strike and no other standing strike is on the job."""

    OPEN = "open", "Open"
    RECOVERED = "recovered", "Recovered"
    CANCELLED = "cancelled", "Cancelled (strike cleared)"


class BonusKind(models.TextChoices):
    """Bonuses paid per ISO week by beat, once per provider and week each."""

    LEADERBOARD = "leaderboard", "Weekly leaderboard"
    STREAK = "streak", "Loyalty streak (every day of the week with verified deliveries, none voided)"
    UPTIME = "uptime", "Uptime"


class LeaderboardScope(models.TextChoices):
    """What a leaderboard ranks providers within."""

    NETWORK = "network", "The whole network"
    CARRIER = "carrier", "Per recipient carrier"
    PROVINCE = "province", "Per province"
