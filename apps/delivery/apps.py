from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    """Push channel, delivery reports, webhooks, proof of delivery, anti-fraud and reputation."""

    name = "apps.delivery"
    label = "delivery"
