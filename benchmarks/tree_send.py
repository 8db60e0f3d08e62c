"""In-process CPU of the ingest floor and the single send on any tree that has `benchmarks/ingest.py`: the same loop
on an old checkout and on main, so that one host's figures compare two trees when the hosts of earlier figures
differ.

`send_cpu.py` measures more (SQL, Redis, PostgreSQL's CPU, holds, keys) but needs today's benchmark helpers; this
script needs only what the tree of 2026-11-26 already had: `benchmarks.ingest.api_key()` (an organisation and its
API key in the database, migrated), `benchmarks.ingest.recipient` and `BODIES`, and `benchmarks.ingest_settings`
(the floor at `/bench/floor`: API-key authentication and one INSERT). Each round posts `--requests` of the floor and
then of `POST /api/messages/send` (a free message) through Django's test client and the whole middleware stack, and
times this process's CPU (`time.process_time`); the medians over the rounds are printed. Run it with the tree's own
interpreter from the tree's root, on a database of its own:

    cd /work/wt/old && DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_tree_bench \\
    REDIS_URL=redis://127.0.0.1:6380/5 CELERY_BROKER_URL=redis://127.0.0.1:6380/6 \\
    .venv/bin/python /path/to/main/benchmarks/tree_send.py --tree .

The dispatch signals the sends enqueue stay in CELERY_BROKER_URL's Redis database: empty it afterwards. A
measurement, not a test.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", default=".", help="the checkout to measure (default: the current folder)")
    parser.add_argument("--requests", type=int, default=200, help="requests per round and endpoint (default 200)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds, the endpoints alternating (default 5)")
    args = parser.parse_args()
    root = Path(args.tree).resolve()
    sys.path.insert(0, str(root))
    os.chdir(root)
    os.environ["DJANGO_SETTINGS_MODULE"] = "benchmarks.ingest_settings"
    os.environ["DEBUG"] = "false"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("MESSAGE_RATE_PER_SECOND", "100000")  # no key limit in the way, as ingest.py's server

    from benchmarks import ingest  # the tree's own: its api_key() sets Django up and migrates

    key = ingest.api_key()
    key = key[0] if isinstance(key, tuple) else key  # today's returns (key, organisation id)
    from django.test import Client

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}", HTTP_HOST="127.0.0.1")
    rng = random.Random(1)

    def post(path: str) -> None:
        body = {"to": ingest.recipient(rng), "body": ingest.BODIES[0].format(n=rng.randint(100000, 999999))}
        response = client.post(path, data=json.dumps(body), content_type="application/json")
        if response.status_code not in (200, 201, 202):
            raise SystemExit(f"{path} answered {response.status_code}: {response.content[:200]!r}")

    paths = ("/bench/floor", "/api/messages/send")
    for path in paths:  # warm: the first requests load code and fill caches
        for _ in range(50):
            post(path)
    figures: dict[str, list[float]] = {path: [] for path in paths}
    for _ in range(args.rounds):
        for path in paths:
            started = time.process_time()
            for _ in range(args.requests):
                post(path)
            figures[path].append((time.process_time() - started) / args.requests * 1000)
    load = os.getloadavg()[0]
    print(f"tree {root}, {args.rounds} rounds × {args.requests} requests, load {load:.2f} after")
    for path, rounds in figures.items():
        print(f"  {path:20s} {statistics.median(rounds):.3f} ms  rounds {' '.join(f'{r:.3f}' for r in rounds)}")


if __name__ == "__main__":
    main()
