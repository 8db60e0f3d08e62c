"""Wait until the database, cache and broker answer, with exponential backoff and a deadline.

Used by the container entrypoint and CI so that processes do not start (and crash) before their dependencies.
"""

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.core.health import dependency_checks, run_check


class Command(BaseCommand):
    help = "Wait for the database, cache and broker to answer (exponential backoff, with a deadline)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=float, default=60.0, help="Give up after this many seconds.")
        parser.add_argument("--initial-delay", type=float, default=0.5, help="First wait between tries.")
        parser.add_argument("--max-delay", type=float, default=8.0, help="Longest wait between tries.")

    def handle(self, *args: Any, timeout: float, initial_delay: float, max_delay: float, **options: Any) -> None:
        deadline = time.monotonic() + timeout
        for name, check in dependency_checks().items():
            delay = initial_delay
            while True:
                result = run_check(name, check)
                if result.ok:
                    self.stdout.write(f"{name}: ready ({result.duration_ms} ms)")
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandError(f"{name} is still unavailable after {timeout:g}s: {result.error}")
                wait = min(delay, remaining)
                self.stdout.write(f"waiting for {name}: {result.error} (next try in {wait:.1f}s)")
                time.sleep(wait)
                delay = min(delay * 2, max_delay)
