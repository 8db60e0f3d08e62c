from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    label = "incentives"
