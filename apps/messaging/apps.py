from django.apps import AppConfig


class MessagingConfig(AppConfig):
    """Client message API, validation, content filter, blacklists, queue, dispatch and job leases."""

    name = "apps.messaging"
    label = "messaging"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.messaging.metrics import MessageQueueCollector

        register_live_collector(MessageQueueCollector())

        from apps.messaging import privacy

        privacy.register()
