from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """Provider profiles, SIMs, devices, heartbeats, availability, caps and matching."""

    name = "apps.providers"
    label = "providers"
