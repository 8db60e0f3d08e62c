"""What encrypting providers' own numbers costs on the paths that read them, in one in-process run on PostgreSQL.

Sign-in (an OTP request and the login with its code: the account and the challenge are found by the number's keyed
hash, the number is encrypted into the challenge and read back), a provider's heartbeat, and matching as dispatch
calls it (which reads no number: it goes by the SIM's carrier). Every encrypt, decrypt and blind index made on those
paths is counted and timed by the column it was for, so the share of each path's time spent on the numbers' crypto
is read off the same run, under the same load.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_numbers_bench REDIS_URL=redis://127.0.0.1:6379/3 \\
        .venv/bin/python benchmarks/provider_numbers.py

The database name must end in `_bench`: the script creates it if needed and empties its providers tables. This is
a measurement, not a test: nothing here fails on a slow machine.
"""

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url, percentile

CALLS: Counter[str] = Counter()
SECONDS: defaultdict[str, float] = defaultdict(float)


def _timed(name: str, function: Callable[..., Any], label: Callable[..., str]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            key = f"{name} {label(*args, **kwargs)}"
            CALLS[key] += 1
            SECONDS[key] += time.perf_counter() - started

    return wrapper


def instrument() -> None:
    """Count and time the crypto by column. Done before the apps are imported, so that modules importing
    `blind_index` by name get the timed one too."""
    from apps.core import crypto

    crypto.encrypt = _timed("encrypt", crypto.encrypt, lambda plaintext, *, context: context)
    crypto.decrypt = _timed("decrypt", crypto.decrypt, lambda token, *, context: context)
    crypto.blind_index = _timed("blind index", crypto.blind_index, lambda value: "")


def reset_counts() -> None:
    CALLS.clear()
    SECONDS.clear()


def report(name: str, samples_ms: list[float]) -> None:
    count = len(samples_ms)
    crypto_ms = sum(SECONDS.values()) * 1000 / count
    mean = statistics.fmean(samples_ms)
    print(
        f"\n{name}: {count} calls, p50 {statistics.median(samples_ms):.2f} ms,"
        f" p99 {percentile(samples_ms, 0.99):.2f} ms, mean {mean:.2f} ms;"
        f" crypto {crypto_ms * 1000:.0f} µs per call ({crypto_ms / mean * 100:.1f} % of the mean)"
    )
    for key, calls in sorted(CALLS.items()):
        print(f"    {key:55} {calls / count:5.2f} per call  {SECONDS[key] / calls * 1e6:6.1f} µs each")


def load(count: int, rng: random.Random) -> list[Any]:
    from django.db import connection

    from benchmarks.matching import load as load_providers
    from benchmarks.matching import refresh_heartbeats

    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE providers_stickysender, providers_availabilitychange, providers_simcounter, providers_device, "
            "providers_sim, providers_provider, accounts_otpchallenge, accounts_devicesession, audit_auditlog "
            "RESTART IDENTITY CASCADE"
        )
        cursor.execute("DELETE FROM accounts_user WHERE display_name LIKE 'bench %%'")
    load_providers(0, count, rng)
    refresh_heartbeats()
    from apps.providers.models import Provider

    return list(Provider.objects.select_related("user").filter(status="active"))


def sign_in_users(count: int) -> list[str]:
    """Existing accounts with valid mobile numbers (Cellcard's 012 range; the matching fleet's are not dialable)."""
    from apps.accounts.models import User

    users = [User(phone=f"+8551298{n:04d}", password="!", display_name=f"bench sign-in {n}") for n in range(count)]  # noqa: S106
    return [user.phone for user in User.objects.bulk_create(users)]


def time_sign_ins(phones: list[str]) -> list[float]:
    from apps.accounts.services import otp_login, otp_request
    from apps.simulator.otp import simulated_code

    samples = []
    for phone in phones:
        started = time.perf_counter()
        otp_request(phone=phone)
        otp_login(phone=phone, code=simulated_code(phone), device_name="bench")
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def time_heartbeats(providers: list[Any]) -> list[float]:
    from apps.providers.services import provider_heartbeat

    samples = []
    for provider in providers:
        started = time.perf_counter()
        provider_heartbeat(provider=provider, battery=80, sims_ready=[0, 1])
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def time_matches(count: int, rng: random.Random) -> list[float]:
    from apps.providers.services import capacity_release
    from benchmarks.matching import CARRIER_SHARES, match_one

    carriers, weights = list(CARRIER_SHARES), list(CARRIER_SHARES.values())
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        assignment = match_one(recipient_carrier=rng.choices(carriers, weights)[0])
        samples.append((time.perf_counter() - started) * 1000)
        if assignment is not None:
            capacity_release(
                provider_id=assignment.provider_id,
                sim_id=assignment.sim_id,
                reserved_at=assignment.reserved_at,
                sms_sent=True,
            )
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--providers", type=int, default=2_000)
    parser.add_argument("--calls", type=int, default=500, help="timed calls per path")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    bench_database_url()
    instrument()
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    # The benchmark signs in many numbers from one address in a few seconds; the limits are not what it measures.
    settings.OTP_SENDER = "apps.simulator.otp.CacheOtpSender"
    settings.OTP_RATE_PER_PHONE = settings.OTP_RATE_PER_IP = settings.OTP_VERIFY_RATE_PER_IP = "1000000/m"
    rng = random.Random(args.seed)
    providers = load(args.providers, rng)
    rng.shuffle(providers)
    print(f"PostgreSQL {connection.pg_version // 10000}, {args.providers} providers, load average {os.getloadavg()}")

    phones = sign_in_users(args.calls + 50)
    time_sign_ins(phones[-50:])  # warm up
    reset_counts()
    report("sign-in (OTP request + login, existing account)", time_sign_ins(phones[: args.calls]))

    time_heartbeats(providers[-50:])
    reset_counts()
    report("heartbeat", time_heartbeats(providers[: args.calls]))

    time_matches(100, rng)
    reset_counts()
    report("match (a batch of one, as dispatch calls it)", time_matches(args.calls, rng))
    print(f"\nload average at the end {os.getloadavg()}")


if __name__ == "__main__":
    main()
