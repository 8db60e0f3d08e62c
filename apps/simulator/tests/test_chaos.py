"""The chaos suite, shortened for CI: real web server, Celery worker and beat on PostgreSQL and a Redis of the test's
own; while traffic runs, a worker is killed with SIGKILL, Redis is killed and started again empty, a tenth of the
phones go silent, the clients' webhook receiver is down, and phones send duplicate, late and forged reports. Nothing
may be lost, sent, charged or rewarded twice; every webhook arrives once the receiver is back; each fault recovers.

(PostgreSQL is restarted only by the full run, `benchmarks/chaos.py`, on a throwaway cluster: CI's PostgreSQL is
shared.)"""

import os

import pytest
from django.db import connection
from django.test.utils import override_settings

from apps.simulator.chaos import ChaosConfig, ChaosSimulation, PrivateRedis, misbehaving_phones
from apps.simulator.processes import ServerConfig
from apps.simulator.run import SimulationConfig

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker and web processes must share the test database: PostgreSQL (SQLite's is in memory)",
    ),
    # Opt-in: CI runs it as a step of its own after the PostgreSQL suite (.ci/run), bounded in time; the suite's
    # ordinary runs skip it (two minutes of servers and faults).
    pytest.mark.skipif(not os.environ.get("PEERPOWER_CHAOS_TEST"), reason="set PEERPOWER_CHAOS_TEST=1 to run it"),
]


@pytest.fixture
def private_redis(settings):
    redis = PrivateRedis().start()
    # The servers' cache settings (apps.core.cache.RedisCache, key prefix "pp") on the private Redis.
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "pp")
    caches = {"default": {"BACKEND": "apps.core.cache.RedisCache", "LOCATION": f"{redis.url}/0", "KEY_PREFIX": prefix}}
    # This process reads the sign-in codes the servers leave in the cache: the same Redis.
    with override_settings(CACHES=caches):
        yield redis
    redis.stop()


# The test's own limit counts the test alone (func_only): creating the test database, its first fixture, took 37 s on
# a quiet machine and over three minutes at load 13. .ci/run bounds the whole step at seven minutes.
@pytest.mark.timeout(230, func_only=True)
def test_chaos_short(private_redis):
    redis_env = {
        "REDIS_URL": f"{private_redis.url}/0",
        "CELERY_BROKER_URL": f"{private_redis.url}/1",
        "CELERY_RESULT_BACKEND": f"{private_redis.url}/1",
    }
    config = SimulationConfig(
        providers=10,
        clients=2,
        # Twelve seconds of traffic, within what a CI machine carries: the faults come one after another for about a
        # minute after it (each waits for its probe), so more traffic only adds messages to settle at the end.
        messages=60,
        rate=5,
        bulk_share=0.5,
        bulk_size=10,
        canaries=0,
        spam_messages=0,  # the abusers have their run in test_end_to_end; this one is about faults
        sign_in_codes=0,
        validity_seconds=240,
        settle_timeout=60,
        seed=20,
        cash_out=False,  # the payouts' own chaos test covers cashing out (apps/incentives/tests/test_payouts_chaos.py)
        behaviour=misbehaving_phones(
            send_delay=(0.2, 0.6),
            deliver_delay=(0.5, 1.0),
            duplicate_share=0.1,
            late_share=0.05,
            late_seconds=(20.0, 40.0),
            # The run asserts a forged report was refused: at 5 % of ~60 reports none came in about one run in 25
            # (the draws follow thread timing, not only the seed); at 15 % about one in 20,000.
            forged_share=0.15,
        ),
        servers=ServerConfig(
            web_workers=2,
            worker_concurrency=2,
            max_jobs_in_flight=10,
            lease_seconds=15,
            ack_seconds=5,
            unknown_answer_seconds=20,  # how long the run's last `unknown` jobs hold it up at the end
            dispatch_backoff_max=3,
            min_delivery_seconds=0,
            extra_env={**redis_env, "MESSAGE_RECONCILE_GRACE_SECONDS": "10", "PROVIDER_HEARTBEAT_INTERVAL": "10"},
        ),
    )
    chaos = ChaosConfig(
        simulation=config,
        faults=("webhook_down", "worker_kill", "redis_restart", "phones_offline"),
        gap_seconds=2,
        webhook_down_seconds=15,
        phones_offline_seconds=8,
        # The worker kill loses the probe's dispatch task: found again by the reconciler (30 s beat, 10 s grace), then
        # pushed, sent and reported; 17-34 s on a loaded machine before, over 45 s at load 8-11.
        recovery_timeout=75,
        # A delivery whose attempt a fault cut off (the Redis restart terminates the tasks a worker holds) is sent
        # again once its claim ends (30 s) and the sweeper (every 30 s, 20 s past due) finds it: up to 80 s.
        webhook_timeout=90,
        redis=private_redis,
    )
    simulation = ChaosSimulation(chaos)
    simulation.run()
    report = simulation.report
    text = "\n".join(report.lines())
    print(text)  # the figures, in the test output

    assert report.summary.lost == 0 and report.not_final == 0, text
    assert report.summary.sent_twice == 0 and report.summary.sent_twice_db == 0, text
    assert report.charged_twice == 0 and report.rewarded_twice == 0, text
    assert report.webhooks_owed > 0 and report.webhooks_undelivered == 0 and report.webhook_events_missing == 0, text
    assert set(report.recovery) == {"worker_kill", "redis_restart", "phones_offline"}, text
    assert all(seconds is not None for seconds in report.recovery.values()), text
    assert any(kind.startswith("duplicate") for kind in report.replays), text
    assert any(kind.startswith("forged 4") for kind in report.replays), text
    assert report.ok, text
