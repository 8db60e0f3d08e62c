from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProvidersConfig(AppConfig):
    """Provider profiles, SIMs, devices, heartbeats, availability, caps and matching."""

    name = "apps.providers"
    verbose_name = _("Providers")
    label = "providers"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.providers.metrics import ProviderCapacityCollector

        register_live_collector(ProviderCapacityCollector())

        from apps.providers import privacy

        privacy.register()
