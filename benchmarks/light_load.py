"""Celery tasks per message under light load, through a real worker: how many dispatch, push and webhook tasks one
message costs at a few messages per second, for the linger windows given (DISPATCH_LINGER_MS, WEBHOOK_LINGER_MS).

It loads providers with phones (FCM fake, in this process) and one client with a webhook endpoint (a local
receiver), starts a Celery worker (queues high, default, low; no beat, so only the tasks a message causes run),
submits messages through the send service at the given rate (Poisson arrivals), and plays the phones' reports: each
assigned message is moved to `sent` one second later and to `delivered` two seconds after that (each move emits the
client's webhook event, as a phone's report does). At the end it reads the worker's task counters
(`peerpower_celery_tasks_total`, PROMETHEUS_MULTIPROC_DIR) and its CPU.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_light_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/8 .venv/bin/python benchmarks/light_load.py --rate 5 --linger 0 50

The database name must end in `_bench` (its tables are emptied); give it Redis databases of its own.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("PROVIDER_MAX_JOBS_IN_FLIGHT", "50")
os.environ.setdefault("PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS", "1000")
os.environ.update(WEBHOOK_ALLOW_PRIVATE_ADDRESSES="true", WEBHOOK_REQUIRE_HTTPS="false")

from benchmarks.common import bench_database_url  # noqa: E402

SENT_AFTER, DELIVERED_AFTER = 1.0, 3.0  # seconds after assignment


def start_worker(env: dict[str, str], logs: Path) -> subprocess.Popen:
    argv = [str(Path(sys.executable).parent / "celery"), "-A", "peerpower", "worker", "-Q", "high,default,low"]
    argv += ["--concurrency", "2", "--loglevel", "WARNING", "--hostname", f"light{os.getpid()}@%h"]
    with open(logs / "worker.log", "a") as log:
        return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603


def task_counts(metrics_dir: str) -> dict[str, float]:
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=metrics_dir)
    counts: dict[str, float] = defaultdict(float)
    for metric in registry.collect():
        if metric.name == "peerpower_celery_tasks":
            for sample in metric.samples:
                if sample.name.endswith("_total"):
                    counts[sample.labels["task"]] += sample.value
    return dict(counts)


def play_phones(pending: dict[int, float], moved: dict[int, str]) -> None:
    """Move assigned messages to sent, then delivered, on the phones' schedule (each in its own transaction)."""
    from django.utils import timezone

    from apps.messaging.models import Message
    from apps.messaging.state import message_transition

    now = timezone.now()
    for message in Message.objects.filter(pk__in=list(pending), status__in=["assigned", "sent"]):
        since = (now - message.assigned_at).total_seconds() if message.assigned_at else 0
        if message.status == "assigned" and since >= SENT_AFTER:
            message_transition(message=message, to="sent")
        elif message.status == "sent" and since >= DELIVERED_AFTER:
            message_transition(message=message, to="delivered")
            moved[message.pk] = "delivered"
            pending.pop(message.pk, None)


def run(args: argparse.Namespace, dispatch_linger: int, webhook_linger: int, logs: Path) -> None:
    from apps.messaging.models import Message
    from apps.messaging.services import MessageInput, message_submit
    from apps.simulator.processes import cpu_seconds
    from benchmarks.dispatch import organization, reset_run

    reset_run(0, random.Random(args.seed))
    org = organization()
    metrics_dir = tempfile.mkdtemp(prefix="light-metrics-")
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
        "DISPATCH_LINGER_MS": str(dispatch_linger),
        "WEBHOOK_LINGER_MS": str(webhook_linger),
    }
    os.environ["DISPATCH_LINGER_MS"] = str(dispatch_linger)  # the signals are sent from this process
    os.environ["WEBHOOK_LINGER_MS"] = str(webhook_linger)
    from django.conf import settings

    settings.DISPATCH_LINGER_MS, settings.WEBHOOK_LINGER_MS = dispatch_linger, webhook_linger
    worker = start_worker(env, logs)
    try:
        time.sleep(10)  # booted and idle
        cpu_before = cpu_seconds({"worker": worker.pid}, {})["worker"]
        rng = random.Random(args.seed)
        pending: dict[int, float] = {}
        moved: dict[int, str] = {}
        started = time.monotonic()
        next_at = started
        for _ in range(args.messages):
            while time.monotonic() < next_at:
                play_phones(pending, moved)
                time.sleep(min(0.02, max(0.0, next_at - time.monotonic())))
            to = f"0{rng.choice(['12', '97', '77', '15', '89'])} {rng.randint(100, 999)} {rng.randint(100, 999)}"
            data = MessageInput(to=to, body=f"Your code is {rng.randint(1000, 9999)}")
            message = message_submit(organization=org, api_key=None, data=data)
            pending[message.pk] = time.monotonic()
            next_at += rng.expovariate(args.rate)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            play_phones(pending, moved)
            time.sleep(0.05)
        time.sleep(3)  # the last webhook tasks run
        wall = time.monotonic() - started
        cpu = cpu_seconds({"worker": worker.pid}, {})["worker"] - cpu_before
    finally:
        worker.terminate()
        worker.wait()
    counts = task_counts(metrics_dir)
    total = args.messages
    delivered = Message.objects.filter(status="delivered").count()
    print(
        f"DISPATCH_LINGER_MS={dispatch_linger} WEBHOOK_LINGER_MS={webhook_linger}: {total} messages at "
        f"{args.rate}/s, {delivered} delivered, {wall:.0f} s, load {os.getloadavg()[0]:.1f}; worker CPU "
        f"{1000 * cpu / total:.1f} ms/message",
        flush=True,
    )
    for name in sorted(counts):
        print(f"    {name:36} {counts[name]:6.0f}  {counts[name] / total:5.2f} per message", flush=True)
    print(f"    {'all tasks':36} {sum(counts.values()):6.0f}  {sum(counts.values()) / total:5.2f} per message")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=150)
    parser.add_argument("--rate", type=float, default=5.0)
    parser.add_argument("--linger", type=int, nargs="+", default=[0, 50], help="ms, both windows, one run each")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    bench_database_url(require_redis=True)

    from apps.delivery.fcm_fake import FcmFake
    from apps.delivery.tests.webhook_receiver import WebhookReceiver

    logs = Path(tempfile.mkdtemp(prefix="light-load-"))
    credentials = logs / "service-account.json"
    with FcmFake(project_id="peerpower-bench") as fake, WebhookReceiver() as receiver:
        fake.write_service_account(credentials)
        os.environ.update(
            PUSH_BACKEND="fcm",
            FCM_CREDENTIALS_FILE=str(credentials),
            FCM_ENDPOINT=fake.endpoint,
            MESSAGING_JOB_OFFER_HOOK="apps.delivery.services.job_offer_push_later",
        )
        import django

        django.setup()
        from django.core.management import call_command

        from benchmarks.dispatch import empty_tables, load_providers, organization

        call_command("migrate", verbosity=0)
        empty_tables()
        load_providers(args.providers, random.Random(args.seed))
        from apps.delivery.webhooks.services import webhook_endpoint_create

        webhook_endpoint_create(organization=organization(), actor=None, url=receiver.url())
        print(f"{args.providers} providers, one webhook endpoint; load average {os.getloadavg()[0]:.2f}", flush=True)
        for linger in args.linger:
            run(args, linger, linger, logs)
            print(f"    webhook requests received so far: {len(receiver.requests)}", flush=True)


if __name__ == "__main__":
    main()
