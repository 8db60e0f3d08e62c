from django.apps import AppConfig


class DeliveryConfig(AppConfig):
    """Push channel, delivery reports, webhooks, proof of delivery, anti-fraud and reputation."""

    name = "apps.delivery"
    label = "delivery"

    def ready(self) -> None:
        from apps.delivery import checks  # noqa: F401 - registers system checks

        # The webhooks package keeps its own tasks and admin; importing them registers them with Celery and the admin
        # site (both are read only after every app is ready).
        from apps.delivery.webhooks import admin, tasks  # noqa: F401
