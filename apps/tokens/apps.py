from django.apps import AppConfig


class TokensConfig(AppConfig):
    """The PPT ledger and on-chain settlement on Selendra."""

    name = "apps.tokens"
    label = "tokens"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.tokens.metrics import LedgerCheckCollector

        register_live_collector(LedgerCheckCollector())

        from apps.tokens import privacy

        privacy.register()
