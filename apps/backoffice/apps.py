from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BackofficeConfig(AppConfig):
    """The staff console: the operations dashboard on the admin index, analytics pages and the staff statistics API.

    It reads every other app (through their selectors) and writes only its own hourly figures, so it is the top layer.
    """

    name = "apps.backoffice"
    verbose_name = _("Back office")
    label = "backoffice"

    def ready(self) -> None:
        from apps.backoffice import provider_page
        from apps.backoffice.rollup import rollup_on_accepted, rollup_on_status_changed, rollup_on_statuses_changed
        from apps.core.events import subscribe
        from apps.messaging.events import MessagesAccepted, MessagesStatusChanged, MessageStatusChanged

        # Messaging publishes, the back office counts (apps.core.events): one upsert after each commit.
        subscribe(MessagesAccepted, rollup_on_accepted)
        subscribe(MessageStatusChanged, rollup_on_status_changed)
        subscribe(MessagesStatusChanged, rollup_on_statuses_changed)
        provider_page.register()  # strikes, earnings and recent jobs on the provider's admin page
