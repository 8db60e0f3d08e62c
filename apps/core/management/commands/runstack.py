"""`manage.py runstack`: run web, a Celery worker and beat under one supervisor (the embedded default's
`scripts/run`); see apps/core/stack.py for how it restarts and stops them."""

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from apps.core.metrics import multiprocess_dir_reset
from apps.core.stack import Supervisor, stack_processes


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

    def handle(self, *args: Any, **options: Any) -> None:
        # One metrics folder for web and worker, emptied here: `/metrics` then adds up the worker's counters too.
        metrics_dir = multiprocess_dir_reset(
            os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.VAR_DIR / "prometheus"
        )
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": metrics_dir, "PYTHONUNBUFFERED": "1"}

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
            ),
            env=env,
            cwd=settings.BASE_DIR,
            say=say,
            stop_timeout=options["stop_timeout"],
            backoff_max=options["backoff_max"],
        )
        say(f"metrics of every process are added up in {metrics_dir}")
        sys.exit(supervisor.run())
