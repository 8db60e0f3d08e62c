from django.apps import AppConfig


class TokensConfig(AppConfig):
    """The PPT ledger and on-chain settlement on Selendra."""

    name = "apps.tokens"
    label = "tokens"
