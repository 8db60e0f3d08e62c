"""Run the local Baray fake standalone, for the embedded default and for trying top-ups by hand:
`manage.py baray_fake --port 9098`. It answers intents with the merchant keys from settings (development's defaults
match), serves the checkout page at /checkout/<intent id>, and posts paid or failed payments to the webhook URL.
Ctrl-C stops it."""

import shlex
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.payments.baray_fake import BarayFake


class Command(BaseCommand):
    help = "Run a local fake of Baray (payment intents, checkout page, status, encrypted webhooks)."
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=9098, help="Port to listen on (0: any free port).")
        parser.add_argument(
            "--webhook-url",
            default="http://127.0.0.1:8000/api/billing/baray/webhook",
            help="Where paid and failed payments are notified (PeerPower's Baray webhook).",
        )
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds to wait before each API answer.")

    def handle(self, *args: Any, **options: Any) -> None:
        fake = BarayFake(
            api_key=settings.BARAY_API_KEY,
            secret_key=settings.BARAY_SECRET_KEY,
            iv=settings.BARAY_IV,
            webhook_secret_key=settings.BARAY_WEBHOOK_SECRET_KEY,
            webhook_iv=settings.BARAY_WEBHOOK_IV,
            webhook_url=options["webhook_url"],
            host=options["host"],
            port=options["port"],
            latency_seconds=options["latency"],
        )
        with fake:
            self.stdout.write(f"Baray fake listening on {fake.endpoint}; webhooks go to {fake.webhook_url}.")
            self.stdout.write("Point PeerPower at it (development settings already do, on port 9098):")
            for name, value in (("BARAY_API_URL", fake.endpoint), ("BARAY_CHECKOUT_URL", fake.checkout_url)):
                self.stdout.write(f"  export {name}={shlex.quote(value)}")
            self.stdout.flush()
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                self.stdout.write("Baray fake stopped.")
