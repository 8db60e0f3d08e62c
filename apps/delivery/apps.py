from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    """Push channel, delivery reports, webhooks, proof of delivery, anti-fraud and reputation."""

    name = "apps.delivery"
    label = "delivery"

    def ready(self) -> None:
        from apps.delivery import checks  # noqa: F401 - registers system checks
        from apps.delivery.webhooks import tasks  # noqa: F401 - registers the webhook tasks with Celery
