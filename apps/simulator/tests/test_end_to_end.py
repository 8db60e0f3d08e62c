"""End to end: real web server, a real Celery worker and beat, the FCM fake and virtual phones, on PostgreSQL and
Redis. Every message reaches a final state, none is lost or sent twice, clients pay for what was delivered, the
dishonest phone is struck and its rewards voided, and the honest phones cash out the rewards that posted once the
verification window had passed."""

import pytest
from django.db import connection

from apps.simulator.fleet import Behaviour
from apps.simulator.processes import ServerConfig
from apps.simulator.run import Simulation, SimulationConfig

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="the worker and web processes must share the test database: PostgreSQL (SQLite's is in memory)",
    ),
]


def test_small_fleet_end_to_end():
    config = SimulationConfig(
        providers=3,  # one per carrier; the first (Smart) is dishonest
        clients=1,
        messages=24,
        rate=12,
        bulk_share=0.5,
        bulk_size=8,
        canaries=4,
        audit_phones=1,
        canary_carrier="smart",  # the dishonest phone's carrier: matching prefers on-net
        # A message whose only on-net phone failed it and that may not go cross-carrier waits for capacity until
        # its validity ends (expired is final); the settle window covers that.
        validity_seconds=60,
        settle_timeout=120,  # only waits as long as it takes; a busy CI machine needs the margin
        seed=8,
        behaviour=Behaviour(
            send_delay=(0.2, 0.5),
            deliver_delay=(2.0, 2.3),
            fail_share=0.1,
            offline_share=0,
            dishonest_share=1 / 3,
            batch_seconds=0.3,  # the batch acknowledgement and report endpoints, as busy phones use them
        ),
        servers=ServerConfig(
            web_workers=1,
            worker_concurrency=2,
            max_jobs_in_flight=10,
            dispatch_backoff_max=4,
            audit_confirm_seconds=2,
        ),
    )
    summary = Simulation(config).run()
    # The abusers: a spamming client's burst is held past the allowance, never sent; sign-in codes travel the
    # trusted pool only, never reaching the ordinary phone that waits for them.
    abuse = summary.abuse
    assert abuse.spam_submitted == 20 and abuse.spam_held == 15 and abuse.spam_held_then_sent == 0, abuse.lines()
    # (A code the trusted phone fails is not handed to anyone else: it waits, and may expire.)
    assert abuse.codes_sent == 3 and abuse.codes_delivered_by_trusted >= 1, abuse.lines()
    assert abuse.codes_to_other_phones == 0 and abuse.codes_offered_to_reader == 0, abuse.lines()
    assert abuse.reader_reads == abuse.reader_reads_refused, abuse.lines()
    print("\n".join(summary.lines()))  # the figures, in the test output

    assert summary.submitted == 24 and summary.refused == 0
    assert summary.lost == 0, "\n".join("\n".join(summary.lines()))
    assert summary.sent_twice == 0 and summary.sent_twice_db == 0, "\n".join(summary.lines())
    assert sum(summary.statuses.values()) == 24
    assert summary.statuses.get("delivered", 0) > 0
    # The workers push; their counters reach the web server's /metrics (one multi-process folder).
    assert summary.pushes_on_metrics > 0, "\n".join(summary.lines())
    # The client and the spammer bought PPT through the Baray fake's checkout before sending (USD 10 each at the
    # default 1 PPT per USD).
    assert (summary.topups, summary.topped_up_ppt) == (2, 20_000_000), "\n".join(summary.lines())
    assert summary.dishonest == 1 and summary.dishonest_caught == 1, "\n".join(summary.lines())
    assert summary.honest_flagged == 0, "\n".join(summary.lines())
    # Clients paid for what was delivered (the development prices), captured from what they held.
    assert summary.charged > 0 and summary.charges_held == 0, "\n".join(summary.lines())
    # Phones earn: once the verification window had passed (injected time), the honest phones' rewards posted; the
    # dishonest phone's were voided by its strike, and nothing was paid for a delivery it faked.
    assert summary.rewards.get("posted", (0, 0))[0] > 0, "\n".join(summary.lines())
    assert summary.rewards.get("pending", (0, 0))[0] == 0, "\n".join(summary.lines())
    assert summary.rewards.get("voided", (0, 0))[0] > 0, "\n".join(summary.lines())
    assert summary.paid_for_faked == summary.held_for_faked == 0, "\n".join(summary.lines())
    assert summary.phone_errors == {}, "\n".join(summary.lines())
    assert summary.cpu["web"] > 0 and summary.cpu["workers"] > 0 and summary.cpu["simulator"] > 0
    # Work counted, not timed: every message took dispatch and settle tasks, at least one commit (its own send) and
    # cache commands (the send's limits).
    work = summary.work
    assert work.tasks["messaging.dispatch_due"] > 0 and len(work.tasks) >= 2, work.lines(24)
    assert work.transactions >= summary.submitted, work.lines(24)
    assert work.cache_commands["evalsha"] + work.cache_commands["eval"] >= summary.submitted, work.lines(24)
    # Honest phones cashed out their posted rewards against the payout fakes (a fifth of whose calls time out):
    # nobody paid twice, every payout final or pending with a reason.
    payouts = summary.payouts
    assert sum(payouts["statuses"].values()) > 0, "\n".join(summary.lines())
    assert 0 < payouts["asked"] <= summary.rewards["posted"][1], "\n".join(summary.lines())
    assert payouts["paid_twice"] == 0 and payouts["pending_without_reason"] == 0, "\n".join(summary.lines())
    assert set(payouts["statuses"]) <= {"succeeded", "failed", "pending"}, "\n".join(summary.lines())
