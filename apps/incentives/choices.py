from django.db import models
from django.utils.translation import gettext_lazy as _


class Route(models.TextChoices):
    """How a message reaches its recipient: from a provider on the recipient's own carrier, or from another one."""

    ON_NET = "on_net", _("On-net (provider's carrier = recipient's)")
    CROSS_CARRIER = "cross_carrier", _("Cross-carrier")


class RewardStatus(models.TextChoices):
    """A reward is pending (held in the ledger) through its verification window, then posted, or voided by a fraud
    strike inside the window."""

    PENDING = "pending", _("Pending (verification window)")
    POSTED = "posted", _("Posted")
    VOIDED = "voided", _("Voided")


class ClawbackStatus(models.TextChoices):
    """A debt booked by a strike on an already posted reward: open until future rewards have repaid it in full;
    cancelled (what was repaid refunded) when staff clear the strike and no other standing strike is on the job."""

    OPEN = "open", _("Open")
    RECOVERED = "recovered", _("Recovered")
    CANCELLED = "cancelled", _("Cancelled (strike cleared)")


class BonusKind(models.TextChoices):
    """Bonuses paid per ISO week by beat, once per provider and week each."""

    LEADERBOARD = "leaderboard", _("Weekly leaderboard")
    STREAK = "streak", _("Loyalty streak (every day of the week with verified deliveries, none voided)")
    UPTIME = "uptime", _("Uptime")


class LeaderboardScope(models.TextChoices):
    """What a leaderboard ranks providers within."""

    NETWORK = "network", _("The whole network")
    CARRIER = "carrier", _("Per recipient carrier")
    PROVINCE = "province", _("Per province")
