"""What the benchmark scripts share: the PostgreSQL database guard, percentiles, a phone's seal key, and a fleet of
providers with SIMs and phones loaded in bulk."""

import os
import random
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlparse


def bench_database_url(*, require_redis: bool = False) -> str:
    """DATABASE_URL, which must be a PostgreSQL database whose name ends in _bench (the scripts empty tables);
    created if missing. Exits with a message otherwise."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")) or (require_redis and not os.environ.get("REDIS_URL")):
        needs = ", and REDIS_URL" if require_redis else ""
        sys.exit(f"set DATABASE_URL to a PostgreSQL database whose name ends in _bench{needs}")
    import psycopg

    name = urlparse(url).path.lstrip("/")
    if not name.endswith("_bench"):
        sys.exit(f"refusing to use database {name!r}: its name must end in _bench (this script empties tables)")
    maintenance = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(maintenance, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')
    return url


def seal_key_random() -> str:
    """A phone's seal key as the app registers it (apps.providers.seal_keys): a fresh X25519 public key, standard
    base64. Pushes to a device with one carry the job sealed to it (apps.delivery.sealed_push)."""
    import base64

    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    public = X25519PrivateKey.generate().public_key()
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def sims_and_phones_create(
    providers: Sequence[Any],
    rng: random.Random,
    *,
    now: datetime,
    carrier_shares: dict[str, float],
    second_sim_share: float,
    turn_offset: tuple[float, float],
) -> None:
    """For saved providers: one SIM on a carrier drawn by `carrier_shares` (`second_sim_share` of them with a second
    on another carrier), the SIMs' counters, and one phone each. `turn_offset`: seconds from now to each SIM's
    next turn, drawn uniformly."""
    from apps.providers.models import Device, Sim, SimCounter

    carriers, weights = list(carrier_shares), list(carrier_shares.values())
    sims = []
    for provider in providers:
        first = rng.choices(carriers, weights)[0]
        owned = [first]
        if rng.random() < second_sim_share:
            owned.append(rng.choice([carrier for carrier in carriers if carrier != first]))
        for slot, carrier in enumerate(owned):
            sims.append(
                Sim(
                    provider=provider,
                    msisdn=f"+8557{slot}{provider.user.phone[-8:]}",
                    slot=slot,
                    carrier=carrier,
                    carrier_detected=carrier,
                    next_turn_at=now + timedelta(seconds=rng.uniform(*turn_offset)),
                    created_at=now - timedelta(days=rng.uniform(8, 400)),
                )
            )
    Sim.objects.bulk_create(sims)
    SimCounter.objects.bulk_create([SimCounter(sim=sim) for sim in sims])
    Device.objects.bulk_create(
        [Device(provider=provider, fcm_token=f"bench-token-{provider.pk}", app_version="1.0") for provider in providers]
    )
