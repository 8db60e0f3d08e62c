"""`manage.py chain_reconcile`: compare the chain's PPT supply and custodial balance with the ledger; exit 1 on a
break (see apps/tokens/chain/supply.py for what is compared)."""

import sys
from typing import Any

from django.core.management.base import BaseCommand

from apps.tokens.chain.sender import ChainSender
from apps.tokens.chain.supply import chain_reconcile


class Command(BaseCommand):
    help = "Compare on-chain PPT supply and the custodial wallet's balance with the ledger."

    def handle(self, *args: Any, **options: Any) -> None:
        result = chain_reconcile(ChainSender.from_settings())
        self.stdout.write(
            f"ledger outstanding {result.ledger_outstanding}, on-chain supply {result.chain_supply} "
            f"(our confirmed mints − burns {result.mirrored_confirmed}), to settle {result.gap}; "
            f"custodial wallet {result.custodial_balance}, paid out on chain {result.paid_out} (ledger units)"
        )
        for line in result.breaks:
            self.stdout.write(f"BREAK {line}")
        if result.breaks:
            sys.exit(1)
