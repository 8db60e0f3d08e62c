"""Run the local airtime aggregator fake standalone (`manage.py airtime_fake --port 9096`), with the client
credentials from settings (development's defaults match). Ctrl-C stops it."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.incentives.payouts.airtime_fake import AirtimeFake
from apps.incentives.payouts.fakebase import serve_until_interrupted


class Command(BaseCommand):
    help = "Run a local fake of the airtime aggregator (Reloadly's API: token, top-ups, status, callbacks)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=9096, help="Port to listen on (0: any free port).")
        parser.add_argument("--timeout-rate", type=float, default=0.0, help="Share of requests answered too late.")

    def handle(self, *args: Any, **options: Any) -> None:
        fake = AirtimeFake(
            client_id=settings.AIRTIME_CLIENT_ID,
            client_secret=settings.AIRTIME_CLIENT_SECRET,
            host=options["host"],
            port=options["port"],
        )
        fake.faults.timeout_rate = options["timeout_rate"]
        serve_until_interrupted(fake, self.stdout, ("AIRTIME_API_URL", "AIRTIME_AUTH_URL"))
