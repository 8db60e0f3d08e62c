"""`manage.py chain_compile`: recompile the PeerPower Token's Vyper source into the committed ABI and bytecode."""

from typing import Any

from django.core.management.base import BaseCommand

from apps.tokens.chain.contract import TOKEN_ARTIFACT, artifact_text, compile_token


class Command(BaseCommand):
    help = "Compile apps/tokens/chain/contracts/PeerPowerToken.vy into PeerPowerToken.json (ABI and bytecode)."

    def handle(self, *args: Any, **options: Any) -> None:
        content = compile_token()
        TOKEN_ARTIFACT.write_text(artifact_text(content))
        size = (len(content["bytecode"]) - 2) // 2
        self.stdout.write(f"{TOKEN_ARTIFACT}: {content['compiler']}, {size} bytes of init code")
