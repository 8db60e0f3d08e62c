from django.db import models


class Route(models.TextChoices):
    """How a message reaches its recipient: from a provider on the recipient's own carrier, or from another one."""

    ON_NET = "on_net", "On-net (provider's carrier = recipient's)"
    CROSS_CARRIER = "cross_carrier", "Cross-carrier"
