from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IncentivesConfig(AppConfig):
    """Pricing, rewards, bonuses and payout thresholds."""

    name = "apps.incentives"
    verbose_name = _("Incentives and payouts")
    label = "incentives"

    def ready(self) -> None:
        from apps.core.events import subscribe
        from apps.core.metrics import register_live_collector
        from apps.delivery.events import FraudStrikeCleared, FraudStrikeRecorded, SettledUnderStrike
        from apps.incentives import (  # noqa: F401 - registers the admin and the tasks
            checks,
            reward_admin,
            reward_tasks,
        )
        from apps.incentives.payouts import checks as payout_checks  # noqa: F401 - registers the payouts system check
        from apps.incentives.payouts import tasks  # noqa: F401 - registers the payout tasks
        from apps.incentives.payouts.metrics import PayoutQueueCollector
        from apps.incentives.pricing import tariff
        from apps.incentives.rewards import (
            rewarded_job,
            rewards_on_deliveries_settling,
            rewards_on_fraud_strike,
            rewards_on_message_status_changed,
            rewards_on_messages_status_changed,
            rewards_on_settled_under_strike,
        )
        from apps.incentives.strike_clearing import rewards_on_strike_cleared
        from apps.messaging.events import DeliveriesSettling, MessagesStatusChanged, MessageStatusChanged
        from apps.messaging.pricing import tariff_register
        from apps.messaging.retention import job_keeper_register

        # Messaging and delivery sit below incentives. Messaging quotes messages through the tariff registered here;
        # both publish events incentives subscribes to (apps.core.events): a delivered message books its reward, a
        # fraud strike voids or claws back rewards, a cleared one makes them good, each in the publisher's transaction.
        tariff_register(tariff)
        subscribe(MessageStatusChanged, rewards_on_message_status_changed)
        subscribe(MessagesStatusChanged, rewards_on_messages_status_changed)
        # A delivery's reward is booked by the delivery's settle step, a moment after its report (apps.delivery.
        # settling); one settled after a strike that came after its report is voided by that strike then.
        subscribe(DeliveriesSettling, rewards_on_deliveries_settling)
        subscribe(SettledUnderStrike, rewards_on_settled_under_strike)
        subscribe(FraudStrikeRecorded, rewards_on_fraud_strike)
        subscribe(FraudStrikeCleared, rewards_on_strike_cleared)
        register_live_collector(PayoutQueueCollector())
        # A rewarded job is a financial record (kept with the ledger): messaging's retention must not delete it.
        job_keeper_register(rewarded_job)

        from apps.incentives.payouts import privacy

        privacy.register()
