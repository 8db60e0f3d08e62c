from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    label = "incentives"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.incentives import checks  # noqa: F401 - registers the prices system check
        from apps.incentives.payouts import checks as payout_checks  # noqa: F401 - registers the payouts system check
        from apps.incentives.payouts import tasks  # noqa: F401 - registers the payout tasks
        from apps.incentives.payouts.metrics import PayoutQueueCollector
        from apps.incentives.pricing import tariff
        from apps.messaging.pricing import tariff_register

        # Messaging sits below incentives: it quotes messages through the tariff registered here.
        tariff_register(tariff)
        register_live_collector(PayoutQueueCollector())
