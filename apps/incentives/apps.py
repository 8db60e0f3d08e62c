from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    label = "incentives"

    def ready(self) -> None:
        from apps.core.events import subscribe
        from apps.delivery.events import FraudStrikeRecorded
        from apps.incentives import reward_admin, reward_tasks  # noqa: F401 - registers the admin and the tasks
        from apps.incentives.rewards import rewards_on_fraud_strike, rewards_on_message_status_changed
        from apps.messaging.events import MessageStatusChanged

        # Messaging and delivery, below incentives, publish; incentives subscribes (apps.core.events): a delivered
        # message books its reward, a fraud strike voids or claws back rewards, each in the publisher's transaction.
        subscribe(MessageStatusChanged, rewards_on_message_status_changed)
        subscribe(FraudStrikeRecorded, rewards_on_fraud_strike)
