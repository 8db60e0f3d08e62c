from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PaymentsConfig(AppConfig):
    """Baray payments, receipts and payouts."""

    name = "apps.payments"
    verbose_name = _("Payments")
    label = "payments"

    def ready(self) -> None:
        from apps.payments import checks  # noqa: F401 - registers the system check of Baray's keys
