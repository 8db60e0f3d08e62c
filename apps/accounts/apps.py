from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Users (phone, DID, EVM address, reputation), OTP, JWT sessions, client organisations and API keys."""

    name = "apps.accounts"
    label = "accounts"

    def ready(self) -> None:
        from apps.accounts import auth_cache, checks, schema  # noqa: F401 - registers signal receivers, system checks and OpenAPI extensions
