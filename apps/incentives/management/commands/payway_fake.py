"""Run the local PayWay payout fake standalone (`manage.py payway_fake --port 9097`), with the merchant id and API
key from settings (development's defaults match). Ctrl-C stops it."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.incentives.payouts.fakebase import serve_until_interrupted
from apps.incentives.payouts.payway_fake import PaywayFake


class Command(BaseCommand):
    help = "Run a local fake of ABA PayWay's payout API (beneficiary whitelist, payout, status check)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=9097, help="Port to listen on (0: any free port).")
        parser.add_argument("--callback-url", default="", help="Where settled payouts are notified.")
        parser.add_argument("--timeout-rate", type=float, default=0.0, help="Share of requests answered too late.")

    def handle(self, *args: Any, **options: Any) -> None:
        fake = PaywayFake(
            merchant_id=settings.PAYWAY_MERCHANT_ID,
            api_key=settings.PAYWAY_API_KEY,
            host=options["host"],
            port=options["port"],
        )
        fake.callback_url = options["callback_url"]
        fake.faults.timeout_rate = options["timeout_rate"]
        serve_until_interrupted(fake, self.stdout, ("PAYWAY_API_URL",))
