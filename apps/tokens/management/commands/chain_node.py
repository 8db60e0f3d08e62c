"""`manage.py chain_node --port 8545`: run the local development chain (an EVM speaking JSON-RPC over HTTP).

The stand-in for Selendra in development, the simulator and integration tests; see `apps.tokens.chain.node`. It prints
`chain_node listening on http://HOST:PORT (chain id N)` once it answers, so a parent process given `--port 0` can read
the port it chose. Ctrl-C or SIGTERM stops it.
"""

import signal
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.tokens.chain.node import ChainNode


class Command(BaseCommand):
    help = "Run a local EVM development chain with a JSON-RPC HTTP endpoint (Selendra's stand-in)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=8545, help="Port to listen on (0: any free port).")
        parser.add_argument(
            "--chain-id", type=int, default=settings.CHAIN_ID, help="Chain id to answer (default: CHAIN_ID)."
        )
        parser.add_argument("--no-automine", action="store_true", help="Hold transactions until evm_mine.")
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds to wait before each answer.")

    def handle(self, *args: Any, **options: Any) -> None:
        node = ChainNode(
            chain_id=options["chain_id"],
            host=options["host"],
            port=options["port"],
            automine=not options["no_automine"],
        )
        node.latency_seconds = options["latency"]
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with node:
            self.stdout.write(f"chain_node listening on {node.url} (chain id {node.chain.chain_id})")
            accounts = node.chain.tester.get_accounts()
            self.stdout.write(f"  {len(accounts)} pre-funded development accounts; the first is {accounts[0]}")
            self.stdout.flush()
            try:
                stop.wait()
            except KeyboardInterrupt:
                pass
        self.stdout.write("chain_node stopped.")
