"""Run the local FCM fake standalone, for the demo and the fleet simulator: `manage.py fcm_fake --port 9099`.

Writes a service-account file whose token endpoint is the fake (a fresh key, unless the file is one an earlier run
on the same port wrote), then prints the variables that point PeerPower's FCM backend at it. Every message received
is logged. Ctrl-C stops it.
"""

import shlex
import threading
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.delivery.fcm_fake import FCM_ERRORS, FcmFake


class Command(BaseCommand):
    help = "Run a local fake of Firebase Cloud Messaging (HTTP v1 and its OAuth token endpoint)."
    # PUSH_BACKEND=fcm may already be exported in this shell, naming the credentials file this command is about to
    # write: the push backend's check would refuse to start the very server that makes it pass.
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Address to listen on (default: loopback only).")
        parser.add_argument("--port", type=int, default=9099, help="Port to listen on (0: any free port).")
        parser.add_argument("--project-id", default="peerpower-local", help="The Firebase project it answers for.")
        parser.add_argument(
            "--credentials-file",
            default=str(Path(settings.VAR_DIR) / "fcm-fake" / "service-account.json"),
            help="Where to write the service-account file its token endpoint accepts.",
        )
        parser.add_argument(
            "--write-credentials",
            action="store_true",
            help="Only write the service-account file for a fake on --port (kept if it already names it), then exit.",
        )
        parser.add_argument("--latency", type=float, default=0.0, help="Seconds to wait before each answer.")
        parser.add_argument(
            "--fail-token",
            action="append",
            default=[],
            metavar="TOKEN=ERROR_CODE",
            help=f"Answer every send to TOKEN with an FCM error ({', '.join(FCM_ERRORS)}); repeatable.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fake = FcmFake(
            project_id=options["project_id"],
            host=options["host"],
            port=options["port"],
            latency_seconds=options["latency"],
        )
        for rule in options["fail_token"]:
            token, _, error_code = rule.rpartition("=")
            try:
                fake.fail_token(token, error_code)
            except ValueError as error:
                raise CommandError(f"--fail-token {rule}: {error}") from error
        credentials_file = Path(options["credentials_file"]).resolve()

        def ensure_credentials() -> None:
            # Reusing the key of an earlier run on the same port lets running apps carry on after a restart.
            if not fake.accept_service_account(credentials_file):
                fake.write_service_account(credentials_file)

        if options["write_credentials"]:
            # What `runstack` does before it starts web and worker: the file must exist before their system checks.
            ensure_credentials()
            return
        with fake:
            ensure_credentials()
            self.stdout.write(f"FCM fake listening on {fake.endpoint} (project {fake.project_id}).")
            self.stdout.write("Point PeerPower at it (in the shell that runs scripts/run or the worker):")
            for name, value in (
                ("PUSH_BACKEND", "fcm"),
                ("FCM_ENDPOINT", fake.endpoint),
                ("FCM_PROJECT_ID", fake.project_id),
                ("FCM_CREDENTIALS_FILE", str(credentials_file)),
            ):
                self.stdout.write(f"  export {name}={shlex.quote(value)}")
            self.stdout.flush()
            try:
                threading.Event().wait()
            except KeyboardInterrupt:
                self.stdout.write("FCM fake stopped.")
