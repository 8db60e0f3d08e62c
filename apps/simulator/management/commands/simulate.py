"""`manage.py simulate`: see PeerPower work end to end with a fleet of virtual phones and clients."""

import logging
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from apps.simulator.fleet import Behaviour
from apps.simulator.processes import ServerConfig, log_folder
from apps.simulator.run import Simulation, SimulationConfig


class Command(BaseCommand):
    help = (
        "Start PeerPower (gunicorn, Celery workers and beat) with a local FCM fake, enrol virtual provider phones and "
        "clients through the API, submit messages, and print what happened. Exit status 1 if a message was lost or "
        "sent twice."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--providers", type=int, default=20, help="virtual provider phones (default 20)")
        parser.add_argument("--clients", type=int, default=2, help="client organisations with API keys (default 2)")
        parser.add_argument("--messages", type=int, default=200, help="messages to submit (default 200)")
        parser.add_argument("--rate", type=float, default=5.0, help="messages per second submitted (default 5)")
        parser.add_argument("--bulk-share", type=float, default=0.2, help="share of messages sent through /bulk")
        parser.add_argument("--bulk-size", type=int, default=50, help="messages per bulk request (default 50)")
        parser.add_argument("--khmer-share", type=float, default=0.6, help="share of Khmer messages (default 0.6)")
        parser.add_argument("--dishonest", type=float, default=0.1, help="share of dishonest phones (default 0.1)")
        parser.add_argument("--fail", type=float, default=0.03, help="share of sends that fail (default 0.03)")
        parser.add_argument("--offline", type=float, default=0.02, help="chance per job a phone goes offline")
        parser.add_argument("--canaries", type=int, default=40, help="canaries to audit phones (default 40)")
        parser.add_argument("--audit-phones", type=int, default=4, help="audit phones per carrier (default 4)")
        parser.add_argument(
            "--fast",
            action="store_true",
            help="phones send and deliver in ~0.1 s (load runs; the too-fast-delivery fraud rule is off)",
        )
        parser.add_argument(
            "--batch",
            type=float,
            default=0.0,
            metavar="SECONDS",
            help="phones collect acknowledgements and reports this long and send each kind in one request "
            "(default 0: one by one), reports first",
        )
        parser.add_argument(
            "--classic",
            action="store_true",
            help="phones speak the classic protocol: every report (sent and delivered), a heartbeat every round, "
            "and no acknowledgements of the offers a report's answer lists (default: the folded protocol)",
        )
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--worker-processes", type=int, default=1, help="Celery worker processes to start")
        parser.add_argument("--worker-concurrency", type=int, default=2, help="pool size of each Celery worker")
        parser.add_argument("--jobs-in-flight", type=int, default=3, help="PROVIDER_MAX_JOBS_IN_FLIGHT")
        parser.add_argument("--lease-seconds", type=int, default=60, help="JOB_LEASE_SECONDS for the run")
        parser.add_argument(
            "--unknown-answer-seconds",
            type=int,
            default=ServerConfig.unknown_answer_seconds,
            help="JOB_UNKNOWN_ANSWER_SECONDS for the run: how long a phone has to answer for a job left unreported",
        )
        parser.add_argument("--settle-timeout", type=float, default=180, help="seconds to wait for final states")
        parser.add_argument("--seed", type=int, default=None)
        parser.add_argument("--no-migrate", action="store_true", help="do not run migrate first")
        parser.add_argument(
            "--fcm-latency", type=float, default=0.0, help="seconds the FCM fake waits before each answer (default 0)"
        )
        parser.add_argument("--no-cash-out", action="store_true", help="phones do not cash out after the traffic")
        parser.add_argument(
            "--payout-timeouts", type=float, default=0.2, help="share of payout API calls that time out (default 0.2)"
        )
        parser.add_argument(
            "--spam", type=int, default=20, help="a spamming client's burst to neighbouring numbers (default 20)"
        )
        parser.add_argument(
            "--sign-in-codes", type=int, default=3, help="sign-in codes sent while a phone tries to read them"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        for noisy in ("httpx", "peerpower.fcm_fake", "peerpower.payout_fakes"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        if not options["no_migrate"]:
            call_command("migrate", verbosity=0, interactive=False)
        behaviour = Behaviour(
            fail_share=options["fail"],
            offline_share=options["offline"],
            dishonest_share=options["dishonest"],
            batch_seconds=options["batch"],
            folded=not options["classic"],
        )
        if options["fast"]:
            behaviour.send_delay, behaviour.deliver_delay = (0.02, 0.1), (0.02, 0.1)
        config = SimulationConfig(
            providers=options["providers"],
            clients=options["clients"],
            messages=options["messages"],
            rate=options["rate"],
            bulk_share=options["bulk_share"],
            bulk_size=options["bulk_size"],
            khmer_share=options["khmer_share"],
            canaries=options["canaries"],
            audit_phones=options["audit_phones"],
            settle_timeout=options["settle_timeout"],
            seed=options["seed"],
            behaviour=behaviour,
            cash_out=not options["no_cash_out"],
            payout_timeout_share=options["payout_timeouts"],
            spam_messages=options["spam"],
            sign_in_codes=options["sign_in_codes"],
            fcm_latency=options["fcm_latency"],
            servers=ServerConfig(
                web_workers=options["web_workers"],
                worker_processes=options["worker_processes"],
                worker_concurrency=options["worker_concurrency"],
                max_jobs_in_flight=options["jobs_in_flight"],
                lease_seconds=options["lease_seconds"],
                unknown_answer_seconds=options["unknown_answer_seconds"],
                min_delivery_seconds=0 if options["fast"] else ServerConfig.min_delivery_seconds,
            ),
        )
        # The run follows the clients' messages and the canaries it sends to a final state; the bar counts both, as
        # the summary's "followed" does.
        bar = tqdm(total=0, unit="msg", desc="final (messages + canaries)", file=sys.stderr, dynamic_ncols=True)

        def progress(final: int, total: int) -> None:
            bar.total = total
            bar.n = final
            bar.refresh()

        self.stdout.write(
            f"Starting PeerPower with {config.providers} phones and {config.clients} clients "
            f"(logs in {log_folder(config.servers)}/)…"
        )
        summary = Simulation(config, progress=progress).run()
        bar.close()
        self.stdout.write("\n".join(summary.lines()))
        if not summary.ok:
            raise CommandError("messages were lost or sent twice, or an abuser got through")
