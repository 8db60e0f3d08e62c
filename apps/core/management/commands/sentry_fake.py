"""Run the local Sentry stand-in: `manage.py sentry_fake --port 9000`, then start PeerPower with the DSN it prints
to see (in this terminal) what each error report would send."""

import json

from django.core.management.base import BaseCommand, CommandParser

from apps.core.sentry_fake import SentryFake


class Command(BaseCommand):
    help = "Run a local fake of Sentry's envelope endpoint and print each event it receives."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=9000, help="Port to listen on (0: any free port).")

    def handle(self, *args: object, host: str, port: int, **options: object) -> None:
        fake = SentryFake(host=host, port=port)
        with fake:
            self.stdout.write(f"SENTRY_DSN={fake.dsn}")
            seen = 0
            try:
                while True:
                    events = fake.wait_for_events(seen + 1, timeout=3600)
                    for event in events[seen:]:
                        self.stdout.write(json.dumps(event, indent=2, ensure_ascii=False))
                    seen = len(events)
            except (KeyboardInterrupt, TimeoutError):
                pass
