"""`manage.py runstack`: run web, a Celery worker and beat under one supervisor (the embedded default's
`scripts/run`); see apps/core/stack.py for how it restarts and stops them."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.core.metrics import multiprocess_dir_reset
from apps.core.stack import Supervisor, stack_processes

FCM_FAKE_PROJECT = "peerpower-local"


def local_chain_port() -> int | None:
    """The port of the development chain to run: when development deploys the token itself (CHAIN_DEPLOY_IF_MISSING)
    and CHAIN_RPC_URL is a loopback http URL (the default http://127.0.0.1:8545); otherwise the chain is elsewhere."""
    url = urlsplit(settings.CHAIN_RPC_URL)
    if settings.CHAIN_DEPLOY_IF_MISSING and url.scheme == "http" and url.hostname in ("127.0.0.1", "localhost"):
        return url.port or 80
    return None


def fcm_fake_environment(*, port: int) -> dict[str, str]:
    """What points web and worker at the local FCM fake on `port`. Its service-account file is written first, by
    `fcm_fake --write-credentials` (delivery owns the fake), before any process starts: the push backend's system
    check wants the file to exist, and the fake then accepts the file that names its own token endpoint."""
    credentials = Path(settings.VAR_DIR) / "fcm-fake" / "service-account.json"
    write = ["fcm_fake", "--port", str(port), "--credentials-file", str(credentials), "--write-credentials"]
    subprocess.run(  # noqa: S603 - this interpreter and manage.py
        [sys.executable, "manage.py", *write, "--project-id", FCM_FAKE_PROJECT],
        cwd=settings.BASE_DIR,
        check=True,
    )
    return {
        "PUSH_BACKEND": "fcm",
        "FCM_ENDPOINT": f"http://127.0.0.1:{port}",
        "FCM_PROJECT_ID": FCM_FAKE_PROJECT,
        "FCM_CREDENTIALS_FILE": str(credentials),
    }


class Command(BaseCommand):
    help = (
        "Run the development web server, a Celery worker (threads pool) and beat; restart a process that crashes; "
        "on SIGTERM, SIGINT or SIGHUP stop them in turn (web, beat, worker)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--worker-concurrency", type=int, default=2, help="worker threads (default 2)")
        parser.add_argument("--noreload", action="store_true", help="no auto-reload of the web server")
        parser.add_argument(
            "--stop-timeout", type=float, default=30.0, help="seconds each process has to stop before it is killed"
        )
        parser.add_argument("--backoff-max", type=float, default=30.0, help="longest wait before a restart")
        parser.add_argument(
            "--baray-fake-port", type=int, default=9098, help="port of the local Baray fake (0: do not run it)"
        )
        parser.add_argument(
            "--airtime-fake-port", type=int, default=9096, help="port of the local airtime fake (0: do not run it)"
        )
        parser.add_argument(
            "--payway-fake-port", type=int, default=9097, help="port of the local PayWay fake (0: do not run it)"
        )
        parser.add_argument(
            "--fcm-fake-port",
            type=int,
            default=9099,
            help="port of the local FCM fake that pushes go to when PUSH_BACKEND is log (0: do not run it)",
        )
        parser.add_argument(
            "--no-chain",
            action="store_true",
            help="do not run the local development chain even if CHAIN_RPC_URL is one",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        # One metrics folder for web and worker, emptied here: `/metrics` then adds up the worker's counters too.
        metrics_dir = multiprocess_dir_reset(
            os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "prometheus"
        )
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "PYTHONUNBUFFERED": "1"}
        # With no real FCM configured (the development default, PUSH_BACKEND=log), pushes go to the local fake.
        fcm_fake_port = options["fcm_fake_port"] if settings.PUSH_BACKEND == "log" else 0
        if fcm_fake_port:
            env.update(fcm_fake_environment(port=fcm_fake_port))

        def say(line: str) -> None:
            self.stderr.write(f"runstack: {line}")
            self.stderr.flush()

        supervisor = Supervisor(
            specs=stack_processes(
                port=options["port"],
                var_dir=settings.VAR_DIR,
                worker_concurrency=options["worker_concurrency"],
                reload=not options["noreload"],
                baray_fake_port=options["baray_fake_port"] or None,
                fcm_fake_port=fcm_fake_port or None,
                fcm_credentials=env.get("FCM_CREDENTIALS_FILE", ""),
                chain_port=None if options["no_chain"] else local_chain_port(),
                airtime_fake_port=options["airtime_fake_port"] or None,
                payway_fake_port=options["payway_fake_port"] or None,
            ),
            env=env,
            cwd=settings.BASE_DIR,
            say=say,
            stop_timeout=options["stop_timeout"],
            backoff_max=options["backoff_max"],
        )
        say(f"metrics of every process are added up in {metrics_dir}")
        sys.exit(supervisor.run())
