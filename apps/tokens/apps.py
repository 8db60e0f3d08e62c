from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TokensConfig(AppConfig):
    """The PPT ledger and on-chain settlement on Selendra."""

    name = "apps.tokens"
    verbose_name = _("Tokens and ledger")
    label = "tokens"

    def ready(self) -> None:
        from apps.core.metrics import register_live_collector
        from apps.tokens.metrics import LedgerCheckCollector

        register_live_collector(LedgerCheckCollector())

        from apps.tokens import privacy

        privacy.register()
