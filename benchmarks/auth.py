"""CPU per authenticated request, with the per-process session and API-key cache (apps.accounts.auth_cache) on and
off, in one run.

Times, in this process (no server, no load generator), rounds that alternate the cache on
(AUTH_LOCAL_CACHE_SECONDS=60) and off (0: a query per request, as before the cache):

- `jwt auth`: `SessionJWTAuthentication.authenticate` on a request with a phone's access token;
- `api-key auth`: `ApiKeyAuthentication.authenticate` on a request with a client's key;
- `GET /api/me`: the whole request through Django's handler (middleware, DRF, the profile serializer).

Prints µs of CPU per request (process time, median of the rounds), database queries per request and the ratio
cached/uncached, with the machine's load average.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_auth_bench REDIS_URL=redis://127.0.0.1:6379/14 \\
    .venv/bin/python benchmarks/auth.py

The database name must end in `_bench` (created and migrated if needed). A measurement, not a test.
"""

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"  # no query log kept in memory
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url


def setup() -> dict[str, Callable[[], object]]:
    """Migrate, sign a phone in and make a client key; the three timed operations."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client
    from rest_framework.request import Request
    from rest_framework.test import APIRequestFactory

    from apps.accounts.authentication import ApiKeyAuthentication, SessionJWTAuthentication
    from apps.accounts.models import User
    from apps.accounts.services import api_key_create, client_create, session_start

    call_command("migrate", verbosity=0)
    user = User.objects.filter(phone="+85512999001").first() or User.objects.create_user("+85512999001")
    access = session_start(user=user, device_name="bench").access
    organization = client_create(user=user, name="auth bench")
    _, secret = api_key_create(organization=organization, actor=user, name="bench")

    factory = APIRequestFactory()
    jwt_request = factory.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {access}")
    key_request = factory.get("/api/whoami", HTTP_X_API_KEY=secret)
    jwt_auth, key_auth = SessionJWTAuthentication(), ApiKeyAuthentication()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {access}", SERVER_NAME="localhost")

    def me() -> None:
        assert client.get("/api/me").status_code == 200

    return {
        "jwt auth": lambda: jwt_auth.authenticate(Request(jwt_request)),
        "api-key auth": lambda: key_auth.authenticate(Request(key_request)),
        "GET /api/me": me,
    }


def cpu_per_call(operation: Callable[[], object], calls: int) -> float:
    """µs of process CPU per call."""
    started = time.process_time()
    for _ in range(calls):
        operation()
    return (time.process_time() - started) / calls * 1e6


def queries_per_call(operation: Callable[[], object], calls: int = 20) -> float:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        for _ in range(calls):
            operation()
    return len(captured) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=500, help="requests per round")
    parser.add_argument("--rounds", type=int, default=7, help="rounds per mode (alternating)")
    arguments = parser.parse_args()
    bench_database_url(require_redis=True)
    operations = setup()
    from django.test import override_settings

    modes = {"cached": 60, "uncached": 0}
    results: dict[tuple[str, str], list[float]] = {}
    queries: dict[tuple[str, str], float] = {}
    load_before = os.getloadavg()
    for name, operation in operations.items():
        for mode, seconds in modes.items():
            with override_settings(AUTH_LOCAL_CACHE_SECONDS=seconds):
                operation()  # load the cache
                queries[name, mode] = queries_per_call(operation)
        for _ in range(arguments.rounds):
            for mode, seconds in modes.items():
                with override_settings(AUTH_LOCAL_CACHE_SECONDS=seconds):
                    results.setdefault((name, mode), []).append(cpu_per_call(operation, arguments.calls))
    load_after = os.getloadavg()

    print(f"load average {load_before[0]:.1f} → {load_after[0]:.1f}; {arguments.rounds} rounds × {arguments.calls}")
    print(f"{'':14} {'uncached µs':>12} {'cached µs':>10} {'ratio':>6} {'queries (uncached → cached)':>28}")
    for name in operations:
        uncached = statistics.median(results[name, "uncached"])
        cached = statistics.median(results[name, "cached"])
        print(
            f"{name:14} {uncached:12.0f} {cached:10.0f} {cached / uncached:6.2f} "
            f"{queries[name, 'uncached']:>19.1f} → {queries[name, 'cached']:.1f}"
        )


if __name__ == "__main__":
    main()
