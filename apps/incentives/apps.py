from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    label = "incentives"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.incentives.payouts import checks, tasks  # noqa: F401 - registers the system check and the tasks
        from apps.incentives.payouts.metrics import PayoutQueueCollector

        register_live_collector(PayoutQueueCollector())
