from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    """Baray payments, receipts and payouts."""

    name = "apps.payments"
    label = "payments"
