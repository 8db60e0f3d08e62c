from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    """Client message API, validation, content filter, blacklists, queue, dispatch and job leases."""

    name = "apps.messaging"
    verbose_name = _("Messaging")
    label = "messaging"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.messaging.metrics import MessageQueueCollector

        register_live_collector(MessageQueueCollector())

        from apps.messaging import privacy

        privacy.register()
