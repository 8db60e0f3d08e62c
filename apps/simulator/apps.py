from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SimulatorConfig(AppConfig):
    """The fleet simulator: virtual phones and clients that drive a running PeerPower through its public API."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.simulator"
    verbose_name = _("Fleet simulator")

    def ready(self) -> None:
        from apps.simulator import checks  # noqa: F401 - registers the system check
