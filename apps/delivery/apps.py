from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeliveryConfig(AppConfig):
    """Push channel, delivery reports, webhooks, proof of delivery, anti-fraud and reputation."""

    name = "apps.delivery"
    verbose_name = _("Delivery")
    label = "delivery"

    def ready(self) -> None:
        from celery.signals import worker_init

        from apps.accounts.events import ClientApplicationDecided
        from apps.core.events import subscribe
        from apps.core.metrics import register_live_collector
        from apps.delivery import checks  # noqa: F401 - registers system checks
        from apps.delivery.metrics import UnsettledReportsCollector
        from apps.delivery.push import push_backend_prepare
        from apps.delivery.retention import webhook_events_on_messages_redacted
        from apps.delivery.timeline import report_entries, webhook_entries

        # The webhooks package keeps its own tasks and admin; importing them registers them with Celery and the admin
        # site (both are read only after every app is ready).
        from apps.delivery.webhooks import admin, tasks  # noqa: F401
        from apps.delivery.webhooks.services import (
            webhook_events_on_application_decided,
            webhook_events_on_balance_low,
            webhook_events_on_status_changed,
            webhook_events_on_statuses_changed,
        )
        from apps.messaging.events import BalanceLow, MessagesStatusChanged, MessageStatusChanged
        from apps.messaging.retention import MessagesRedacted
        from apps.messaging.timeline import timeline_source

        # Messaging, below delivery, publishes; delivery subscribes (apps.core.events): a message reaching a status
        # its client hears about stores the client's webhook event, in the same transaction as the move.
        subscribe(MessageStatusChanged, webhook_events_on_status_changed)
        subscribe(MessagesStatusChanged, webhook_events_on_statuses_changed)
        # A send that takes the client's spendable PPT under its threshold: a `balance.low` event.
        subscribe(BalanceLow, webhook_events_on_balance_low)
        # A message's timeline in the back office shows its reports and webhook deliveries too.
        timeline_source(report_entries)
        timeline_source(webhook_entries)
        # Staff decided a client's sandbox application (accounts, below delivery): a `client.application.decided`.
        subscribe(ClientApplicationDecided, webhook_events_on_application_decided)
        # Retention erased a message's recipient: its webhook events' payloads lose it too.
        subscribe(MessagesRedacted, webhook_events_on_messages_redacted)
        # Staff see on /metrics how many delivered reports wait for the settle step, and for how long.
        register_live_collector(UnsettledReportsCollector())
        # A Celery worker builds the push backend's clients once, before forking its pool (each pool process built
        # its own at its first push: ~0.3 s of CPU each with FCM).
        worker_init.connect(push_backend_prepare, weak=False, dispatch_uid="delivery.push_backend_prepare")
