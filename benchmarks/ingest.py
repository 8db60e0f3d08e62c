"""Ingest benchmark on a real server: `POST /api/messages/send` against the framework's floor, then bulk ingest.

Starts gunicorn (sync workers, 127.0.0.1, a free port) on `benchmarks.ingest_settings`, which adds a bare DRF view
that authenticates the API key like the send endpoint and inserts one row (`benchmarks/ingest_urls.py`). Then, in
the same run, alternates timed rounds of the floor and of the real send endpoint under the same concurrency, and
prints requests/s, p50 and p99 of each and the ratio. Finally posts `/api/messages/bulk` with 1,000 recipients a
request and prints recipients/s.

Billing: the send and bulk rounds run twice, back to back in the same run and server — `send` with no price in
force (a free message: no hold, no account lock) and `send+hold` with prices in force and a funded client (each
message locks the client's PPT account and books its hold, `charge:message:<id>`, in its transaction). The script
switches prices on and off between rounds (rows in the benchmark's own database) and the server re-reads them
within BILLING_CACHE_SECONDS (set to 0.5 s here).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_sim_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/python benchmarks/ingest.py

The load generator runs on the same machine as the server (and, on 2 cores, competes with it): the figures are a
floor for what the server does, and the ratio is the fair comparison. No Celery worker runs: the dispatch tasks the
send endpoint enqueues stay in the broker, which this script empties (CELERY_BROKER_URL's Redis database) at the end.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import percentile  # noqa: E402


def api_key() -> tuple[str, int]:
    import django

    django.setup()
    from django.core.management import call_command

    from apps.accounts.models import User
    from apps.accounts.services import api_key_create, client_create, client_go_live, client_plan_internal

    call_command("migrate", verbosity=0, interactive=False)
    phone = f"+85512{random.randint(200000, 999999)}"
    user = User.objects.create_user(phone=phone)
    organization = client_create(user=user, name="Ingest benchmark")
    client_go_live(organization=organization, actor=None, reason="benchmark", plan=client_plan_internal())
    _, secret = api_key_create(organization=organization, actor=user, name="bench", rate_per_second=10_000)
    _fund(organization)
    return secret, organization.pk


def _fund(organization) -> None:
    """Enough PPT for every held message of the run (a million PPT)."""
    from apps.tokens.choices import PlatformAccount, Reason
    from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create

    transfers_create(
        [
            TransferSpec(
                id=f"bench:fund:{organization.pk}",
                amount=10**12,
                debit_account_id=platform_account(PlatformAccount.ISSUANCE).pk,
                credit_account_id=account_open(organization=organization).pk,
                reason=Reason.TOP_UP,
            )
        ]
    )


def prices(*, on: bool) -> None:
    """Prices in force for every priority and route (on), or none (off: messages are free)."""
    from apps.incentives.models import Price

    Price.objects.all().delete()
    if on:
        Price.objects.bulk_create(
            Price(priority=priority, route=route, amount=10_000)
            for priority in ("high", "normal", "low")
            for route in ("on_net", "cross_carrier")
        )
    time.sleep(1.0)  # the server's price cache (BILLING_CACHE_SECONDS=0.5) lets go of the old table


def recipient(rng: random.Random) -> str:
    prefix = rng.choice(["10", "12", "15", "16", "17", "77", "78", "89", "92", "97", "60", "66"])
    return f"0{prefix}{rng.randint(200000, 999999)}"


BODIES = (
    "Your verification code is {n}. It expires in 5 minutes.",
    "លេខកូដផ្ទៀងផ្ទាត់របស់អ្នកគឺ {n}។ វានឹងផុតកំណត់ក្នុងរយៈពេល ៥ នាទី។",
)


def load(url: str, path: str, key: str, *, concurrency: int, seconds: float) -> tuple[int, float, list[float], int]:
    """`concurrency` threads post for `seconds`; returns (requests, wall seconds, latencies, errors)."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def worker(seed: int) -> None:
        nonlocal errors
        rng = random.Random(seed)
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as http:
            while time.monotonic() < stop_at:
                body = {"to": recipient(rng), "body": rng.choice(BODIES).format(n=rng.randint(100000, 999999))}
                started = time.perf_counter()
                response = http.post(path, json=body)
                elapsed = time.perf_counter() - started
                with lock:
                    if response.status_code == 202:
                        latencies.append(elapsed)
                    else:
                        errors += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies), time.monotonic() - started, latencies, errors


def bulk(url: str, key: str, *, requests: int, size: int) -> tuple[float, int]:
    rng = random.Random(9)
    accepted = 0
    started = time.monotonic()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        for _ in range(requests):
            batch = [
                {"to": recipient(rng), "body": rng.choice(BODIES).format(n=rng.randint(100000, 999999))}
                for _ in range(size)
            ]
            response = http.post("/api/messages/bulk", json={"messages": batch})
            response.raise_for_status()
            accepted += response.json()["accepted"]
    return time.monotonic() - started, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, one per core)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (default 8)")
    parser.add_argument("--seconds", type=float, default=10, help="length of one timed round (default 10)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of each endpoint, alternating (default 2)")
    parser.add_argument("--bulk-requests", type=int, default=5)
    parser.add_argument("--bulk-size", type=int, default=1000)
    args = parser.parse_args()

    key, _ = api_key()
    load_before = os.getloadavg()
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "benchmarks.ingest_settings",
        "MESSAGE_RATE_PER_SECOND": "100000",
        "MESSAGE_QUOTA_PER_DAY": "100000000",
        "BILLING_CACHE_SECONDS": "0.5",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    bin_dir = Path(sys.executable).parent
    server = subprocess.Popen(  # noqa: S603 - our own gunicorn, fixed arguments
        [
            str(bin_dir / "gunicorn"),
            "-c",
            "python:peerpower.gunicorn_config",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--log-level",
            "warning",
            "peerpower.wsgi",
        ],
        env=env,
        cwd=ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Warm-up: imports, the content filter's first compile, connection pools.
        load(url, "/api/messages/send", key, concurrency=2, seconds=2)
        load(url, "/bench/floor", key, concurrency=2, seconds=1)
        results: dict[str, list[tuple[int, float, list[float], int]]] = {"floor": [], "send": [], "send+hold": []}
        for _ in range(args.rounds):
            for name, path in (("floor", "/bench/floor"), ("send", "/api/messages/send"), ("send+hold", "")):
                if name == "send+hold":
                    prices(on=True)
                    path = "/api/messages/send"
                results[name].append(load(url, path, key, concurrency=args.concurrency, seconds=args.seconds))
                if name == "send+hold":
                    prices(on=False)
        print(
            f"ingest: gunicorn {args.workers} sync workers, {args.concurrency} client threads, "
            f"{args.rounds}×{args.seconds:.0f} s per endpoint, "
            f"database {urlparse(env.get('DATABASE_URL', 'sqlite:')).scheme}"
        )
        rates = {}
        for name, rounds in results.items():
            count = sum(r[0] for r in rounds)
            wall = sum(r[1] for r in rounds)
            latencies = [x for r in rounds for x in r[2]]
            errors = sum(r[3] for r in rounds)
            rates[name] = count / wall
            print(
                f"  {name:9} {rates[name]:7.1f} req/s   p50 {statistics.median(latencies) * 1000:6.1f} ms   "
                f"p99 {percentile(latencies, 0.99) * 1000:6.1f} ms   errors {errors}"
            )
        print(f"  ratio send/floor: {rates['send'] / rates['floor']:.2f} (target ≥ 0.7)")
        print(f"  ratio send+hold/floor: {rates['send+hold'] / rates['floor']:.2f} (target ≥ 0.7)")
        # The machine is usually shared: say how busy it was (1-minute load average, this run's own load included).
        print(f"  load average: {load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after the timed rounds")
        for label, on in (("free", False), ("held", True), ("free", False), ("held", True)):
            prices(on=on)
            seconds, accepted = bulk(url, key, requests=args.bulk_requests, size=args.bulk_size)
            print(
                f"bulk ({label}): {args.bulk_requests} requests × {args.bulk_size} recipients: "
                f"{accepted / seconds:.0f} recipients/s ({seconds / args.bulk_requests:.2f} s per request)"
            )
        prices(on=False)
    finally:
        server.terminate()
        server.wait(timeout=30)
        broker = os.environ.get("CELERY_BROKER_URL", "")
        if broker.startswith("redis://"):
            import redis

            redis.Redis.from_url(broker).flushdb()


if __name__ == "__main__":
    main()
