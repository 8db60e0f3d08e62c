from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    label = "incentives"

    def ready(self) -> None:
        from apps.incentives import checks  # noqa: F401 - registers the system check
        from apps.incentives.pricing import tariff
        from apps.messaging.pricing import tariff_register

        # Messaging sits below incentives: it quotes messages through the tariff registered here.
        tariff_register(tariff)
