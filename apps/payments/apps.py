from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Baray payments, receipts and payouts."""

    name = "apps.payments"
    label = "payments"

    def ready(self) -> None:
        from apps.payments import checks  # noqa: F401 - registers the system check of Baray's keys
