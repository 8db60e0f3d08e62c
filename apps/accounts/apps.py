from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """Users (phone, DID, EVM address, reputation), OTP, JWT sessions, client organisations and API keys."""

    name = "apps.accounts"
    verbose_name = _("Accounts and clients")
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts import admin_site, auth_cache, checks, schema  # noqa: F401 - registers signal receivers, system checks and OpenAPI extensions
