"""The chaos suite, full run: the fleet simulator's traffic at multiples of what the machine sustains, with faults
injected while it runs (a Celery worker killed with SIGKILL mid-dispatch, Redis killed and restarted empty,
PostgreSQL crashed and restarted, 10 % of the phones silent without warning, the clients' webhook receiver down,
duplicate, late and forged reports throughout), then checked: lost 0, sent twice 0, charged twice 0, rewarded twice
0, every message final or explicitly unknown, every webhook delivered after the receiver returns, and the time to
recover after each fault (apps/simulator/chaos.py).

It never touches the machine's own PostgreSQL or Redis: it starts a throwaway PostgreSQL cluster (initdb under a
temporary folder, its own port; as the `postgres` user when run as root) and a redis-server on a free port, and
breaks those. They are removed at the end.

    .venv/bin/python benchmarks/chaos.py                       # 2x and 8x of --sustained, receiver down 10 min
    .venv/bin/python benchmarks/chaos.py --webhook-down 120 --seconds 120   # shorter

The phones have a web pool of their own (`--phone-web-workers`, as docs/deployment.md deploys them).

Exit status 0 only if every check of every run passed.
"""

import argparse
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sustained", type=float, default=20.0, help="messages/s the machine sustains (default 20)")
    parser.add_argument("--multiples", default="2,8", help="traffic as multiples of --sustained (default 2,8)")
    parser.add_argument("--seconds", type=float, default=240, help="seconds of traffic per run (default 240)")
    parser.add_argument("--providers", type=int, default=200)
    parser.add_argument("--bulk-share", type=float, default=0.8)
    parser.add_argument("--webhook-down", type=float, default=600, help="seconds the receiver is down (default 600)")
    parser.add_argument("--faults", help="comma-separated faults, in order (default: all, apps.simulator.chaos.FAULTS)")
    parser.add_argument("--gap", type=float, default=20, help="seconds between faults (default 20)")
    parser.add_argument("--web-workers", type=int, default=2)
    # docs/deployment.md's shape: the phones' requests never queue behind the clients' (which at 8x are mostly
    # refused, but each still takes a web worker). With one pool, acknowledgements waited minutes on a loaded machine
    # and every offer expired unacknowledged.
    parser.add_argument(
        "--phone-web-workers", type=int, default=2, help="web workers of the phones' own pool (0: share the clients')"
    )
    # The production default (JOB_ACK_SECONDS): the simulator's own 5 s turns a loaded machine's slow acknowledgements
    # into failed messages, which measures the machine, not the faults.
    parser.add_argument("--ack-seconds", type=int, default=30, help="seconds a phone has to acknowledge (default 30)")
    parser.add_argument("--seed", type=int, default=20)
    # Admission's floor: the production default (500) is a backlog a real deployment drains in seconds; on one small
    # machine it is minutes of work, and the measured-drain limit never goes below it.
    parser.add_argument("--min-backlog", type=int, default=100, help="ADMISSION_MIN_BACKLOG (default 100)")
    args = parser.parse_args()

    # A SIGTERM (a `timeout`, a CI runner) unwinds like Ctrl-C, so the servers and the private stores are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    folder = Path(tempfile.mkdtemp(prefix="peerpower-chaos-"))
    os.chmod(folder, 0o755)  # noqa: S103 - the postgres user needs to reach its cluster below it

    from apps.simulator.processes import free_port

    postgres_port, redis_port = free_port(), free_port()
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "peerpower.settings.development",
            "DEBUG": "false",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{postgres_port}/peerpower_chaos_bench",
            "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/1",
            "CELERY_RESULT_BACKEND": f"redis://127.0.0.1:{redis_port}/1",
            "PEERPOWER_VAR_DIR": str(folder / "var"),
        }
    )
    import django

    django.setup()
    from django.core.management import call_command

    from apps.simulator.chaos import ChaosConfig, ChaosSimulation, PrivatePostgres, PrivateRedis, misbehaving_phones
    from apps.simulator.processes import ServerConfig
    from apps.simulator.run import SimulationConfig
    from benchmarks.common import bench_database_url

    postgres = PrivatePostgres(folder / "postgres", port=postgres_port)
    redis = PrivateRedis(port=redis_port)
    all_ok = True
    try:
        postgres.start()
        redis.start()
        bench_database_url(require_redis=True)
        call_command("migrate", verbosity=0, interactive=False)
        for run, multiple in enumerate(float(value) for value in args.multiples.split(",")):
            if run:
                fresh_stores(redis.url)  # the phones sign in again with the same numbers and keys
            rate = args.sustained * multiple
            config = SimulationConfig(
                providers=args.providers,
                clients=4,
                messages=int(rate * args.seconds),
                rate=rate,
                bulk_share=args.bulk_share,
                bulk_size=50,
                canaries=0,
                # The abusers have their run in the simulator's end-to-end test; this one is about faults (and the
                # sign-in codes are sent from this process, whose own connection the PostgreSQL restart cuts).
                spam_messages=0,
                sign_in_codes=0,
                validity_seconds=1800,
                settle_timeout=600,
                seed=args.seed,
                behaviour=misbehaving_phones(
                    send_delay=(0.05, 0.3), deliver_delay=(0.5, 2.0), batch_seconds=0.5, late_seconds=(60.0, 180.0)
                ),
                servers=ServerConfig(
                    web_workers=args.web_workers,
                    phone_web_workers=args.phone_web_workers,
                    worker_processes=1,
                    worker_concurrency=2,
                    max_jobs_in_flight=10,
                    lease_seconds=60,
                    ack_seconds=args.ack_seconds,
                    unknown_answer_seconds=120,
                    min_delivery_seconds=0,
                    extra_env={
                        "MESSAGE_RECONCILE_GRACE_SECONDS": "20",
                        "ADMISSION_MIN_BACKLOG": str(args.min_backlog),
                    },
                ),
            )
            chaos = ChaosConfig(
                simulation=config,
                **({"faults": tuple(args.faults.split(","))} if args.faults else {}),
                gap_seconds=args.gap,
                webhook_down_seconds=args.webhook_down,
                phones_offline_seconds=90,
                recovery_timeout=300,
                webhook_timeout=300,
                redis=redis,
                postgres=postgres,
            )
            load = os.getloadavg()
            print(
                f"== {multiple:g}x: {rate:g} messages/s offered for {args.seconds:g} s, load {load[0]:.1f}", flush=True
            )
            started = time.monotonic()
            simulation = ChaosSimulation(chaos)
            simulation.run()
            print("\n".join(simulation.report.lines()))
            load = os.getloadavg()
            print(f"   ({time.monotonic() - started:.0f} s, load at the end {load[0]:.1f})", flush=True)
            all_ok = all_ok and simulation.report.ok
    finally:
        from django.db import connections

        connections.close_all()
        redis.stop()
        postgres.stop()
        shutil.rmtree(folder, ignore_errors=True)
    sys.exit(0 if all_ok else 1)


def fresh_stores(redis_url: str) -> None:
    """An empty database and Redis for the next run: the simulator's phones and clients would otherwise find their
    accounts (and bound DIDs) from the run before, and its messages would be traffic too."""
    import psycopg
    import redis
    from django.core.management import call_command
    from django.db import connections

    connections.close_all()
    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')
    redis.Redis.from_url(redis_url).flushall()
    call_command("migrate", verbosity=0, interactive=False)


if __name__ == "__main__":
    main()
