"""The settle step: what a `delivered` report leaves for a moment later, done for many deliveries at once.

A phone's `delivered` report moves its job and message inside the phone's request, computes and stores the client's
charge (`price_charged`: the client's webhook says it at once), and marks the stored report `unsettled` in its own
INSERT (apps.delivery.reports). The rest — the client's hold captured, the provider's reward booked, the day's stats and
reputation counted, the sticky sender remembered — is this step's, about DELIVERY_SETTLE_LINGER_MS later: a settle task
on the `default` queue, signalled after the report commits (one per linger window, as the dispatcher's signal,
`apps.messaging.services.signal`; a phone's report request finds the signal's mark in the round trip it makes before its
work, and then signals nothing after a commit within SIGNAL_GRACE_SECONDS), takes every unsettled report and settles
them in batches of `SETTLE_BATCH`, each in one transaction: the reports claimed (`FOR UPDATE SKIP LOCKED`: two settlers
never take the same report; on SQLite one writer at a time is the lock), their jobs read with message, organisation,
provider and SIM (one compiled SELECT), the holds captured and the rewards booked in ONE ledger batch (messaging's
`deliveries_settle`, whose `DeliveriesSettling` incentives subscribes to), the outcomes recorded, the rewards a later
strike covers voided, the sticky senders remembered, and the reports' marks cleared — one commit. On PostgreSQL the
number of statements does not grow with the batch's providers: their verified rewards and ledger accounts (incentives),
their stat rows and their reputations (one statement each, `outcomes_record`) are read and written together. A crash
rolls back the booking and the claim together; the beat's sweep (`delivery.settle-sweep`) takes whatever a lost signal
or task left. Booking twice is impossible however often a delivery is settled: the capture's and the reward's transfer
ids, and the reward's unique job.

A fraud strike between a report and its settlement (the report's own checks strike after it commits): had the reward
been booked with the report, that strike would have voided it with the provider's other pending rewards. So each
delivery whose provider has a standing strike recorded after the report has its reward voided here, `voided_by` the
first such strike (`SettledUnderStrike`; clearing the strike restores it, `apps.incentives.strike_clearing`), and
its reward counts as booked when the report came. The provider's row is locked by the reputation's UPDATE before the
strikes are read, and a strike's voiding takes the same lock first: whichever comes second sees the other.

DELIVERY_SETTLE_LINGER_MS < 0 settles inside the reporting request, right after the report commits (the tests: they
read rewards and captures right after a report; the deferred path has its own tests)."""

import logging
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone

from apps.core.compiled import CompiledSelect, CompiledUpdate, ids_in
from apps.core.counters import Count
from apps.core.events import publish
from apps.delivery.choices import Unsettled
from apps.delivery.events import SettledUnderStrike
from apps.delivery.fraud import Outcome, outcomes_record
from apps.delivery.models import DeliveryReport, FraudFlag
from apps.messaging.models import Job
from apps.messaging.services.settling import deliveries_settle as messaging_deliveries_settle
from apps.providers.services import StickyDelivery, sticky_senders_remember

logger = logging.getLogger("peerpower.settle")

# Reports settled per transaction: the ledger batch and the statements are per batch, so larger is cheaper per
# delivery, but it holds its claims and ledger rows until it commits.
SETTLE_BATCH = 100
# How long "a settler is on its way" holds back further signals (an optimisation only: the sweep finds the rest), and
# how long one task settles before it hands on to a new one.
SIGNAL_SECONDS = 10
TASK_SECONDS = 10.0
# The sweep takes reports left unsettled this long: younger ones have a task on its way.
SWEEP_AFTER_SECONDS = 30
_SIGNAL_KEY = "delivery:settle:pending"
# How long a settle task waits, once it has taken the mark away, before it reads. The mark was there when a process
# found it (or put it), so the task that takes it does so later and reads at least this long after: what that process
# commits within this long of finding it is read, and signals nothing (no round trip). Only durations are compared,
# each on one machine's monotonic clock (as the dispatch signal's grace, apps.messaging.services.signal).
SIGNAL_GRACE_SECONDS = 0.05
_clock = time.monotonic  # tests move it
_sleep = time.sleep
# When (this process's clock) the mark was last found there or put, just before the round trip that did.
_marked_at = {"at": float("-inf")}


def deliveries_settle(*, received_before: datetime | None = None) -> int:
    """Settle up to SETTLE_BATCH unsettled reports received before `received_before` (now, unless given), oldest
    first, in one transaction; how many were settled. Several settlers may run at once: each skips what another
    holds. Safe to run twice: a settled report is never taken again."""
    received_before = received_before or timezone.now()
    with transaction.atomic():
        reports = _claim(received_before)
        if not reports:
            return 0
        jobs = {job.pk: job for job in _JOBS.run(sorted({report.job_id for report in reports}))}
        delivering = [report for report in reports if report.unsettled == Unsettled.DELIVERY]
        messaging_deliveries_settle(
            jobs=[jobs[report.job_id] for report in delivering],
            reported_at={report.job_id: report.received_at for report in delivering},
        )
        # The reputation takes them in the order the reports came (each of its steps rounds); it locks the providers'
        # rows, in id order, before their strikes are read (module docstring).
        outcomes_record(
            outcomes=[
                Outcome(
                    provider_id=report.provider_id,
                    carrier=jobs[report.job_id].message.carrier,
                    outcome="delivered",
                    when=report.occurred_at,
                )
                for report in reports
            ]
        )
        struck = _struck_after_report(delivering)
        if struck:
            publish(SettledUnderStrike(strikes=struck))
        # PeerPower's own messages never stick to a provider: a canary to an audit phone must be able to reach any
        # provider, or a dishonest one that once delivered there would never be audited again.
        sticky_senders_remember(
            deliveries=[
                StickyDelivery(
                    client_ref=str(job.message.organization_id),
                    recipient=job.message.to_hash,  # the keyed hash: routing hints keep no phone number
                    provider_id=job.provider_id,
                    sim_id=job.sim_id,
                )
                for job in (jobs[report.job_id] for report in reports)
                if not job.message.organization.is_system
            ]
        )
        _MARKS_CLEARED.run({"unsettled": ""}, [report.pk for report in reports])
    return len(reports)


def _claim(received_before: datetime) -> list[DeliveryReport]:
    return _CLAIM_SKIP_LOCKED.run(received_before) if _skip_locked() else _CLAIM.run(received_before)


def _skip_locked() -> bool:
    return connection.features.has_select_for_update_skip_locked


def _unsettled(received_before: datetime) -> QuerySet[DeliveryReport]:
    return (
        DeliveryReport.objects.filter(received_at__lt=received_before)
        .exclude(unsettled="")
        .only("job_id", "provider_id", "occurred_at", "received_at", "unsettled")
        .order_by("received_at", "pk")[:SETTLE_BATCH]
    )


# Built once per process on PostgreSQL (apps.core.compiled), as the report's own reads.
_CLAIM_SKIP_LOCKED = CompiledSelect(lambda before: _unsettled(before).select_for_update(skip_locked=True))
_CLAIM = CompiledSelect(_unsettled)
_MARKS_CLEARED = CompiledUpdate(lambda report_ids: DeliveryReport.objects.filter(ids_in("pk", report_ids)))
# The jobs with what the batch reads of them, and no more: the capture (the message's status and amounts), the reward
# (the route's carriers, priority, segments, the provider's age), the outcome and the sticky sender. Each column left
# out is one the batch did not convert (the message's and provider's encrypted numbers, a dozen times).
_JOBS = CompiledSelect(
    lambda job_ids: (
        Job.objects.select_related("message__organization", "provider", "sim")
        .only(
            "status",
            "message__status",
            "message__price_held",
            "message__price_charged",
            "message__carrier",
            "message__priority",
            "message__segments",
            "message__to_hash",
            "message__organization__is_system",
            "provider__created_at",
            "sim__carrier",
        )
        .filter(ids_in("pk", job_ids))
        .order_by("pk")
    )
)


# Every settle batch's read of the standing strikes recorded since its first report, built once per process on
# PostgreSQL (apps.core.compiled) as the batch's other reads: the ORM built it for each batch.
_STANDING_STRIKES = CompiledSelect(
    lambda provider_ids, since: (
        FraudFlag.objects.filter(
            ids_in("provider_id", provider_ids), strike=True, cleared_at__isnull=True, created_at__gt=since
        )
        .order_by("created_at", "pk")
        .only("provider_id", "pk", "created_at", "rule", "job_id")
    )
)


def _struck_after_report(reports: list[DeliveryReport]) -> dict[int, tuple[int, str, int | None]]:
    """The deliveries among `reports` a standing strike of their provider recorded after the report covers: by job
    id, the first such strike's (flag id, rule, struck job id)."""
    if not reports:
        return {}
    strikes = [
        (flag.provider_id, flag.pk, flag.created_at, flag.rule, flag.job_id)
        for flag in _STANDING_STRIKES.run(
            sorted({report.provider_id for report in reports}), min(report.received_at for report in reports)
        )
    ]
    struck: dict[int, tuple[int, str, int | None]] = {}
    for report in reports:
        for provider_id, flag_id, created_at, rule, job_id in strikes:
            if provider_id == report.provider_id and created_at > report.received_at:
                struck[report.job_id] = (flag_id, rule, job_id)
                break
    return struck


def deliveries_settle_due(*, received_before_seconds: float = 0, seconds: float = TASK_SECONDS) -> int:
    """Settle every unsettled report received more than `received_before_seconds` ago, batch after batch; after
    `seconds` the rest is handed to a new task. How many were settled."""
    started = time.monotonic()
    settled = 0
    while True:
        count = deliveries_settle(received_before=timezone.now() - timedelta(seconds=received_before_seconds))
        settled += count
        if count < SETTLE_BATCH:
            return settled
        if time.monotonic() - started >= seconds:
            settle_signal(force=True)
            return settled


def settle_task_started() -> None:
    """A settle task has started: reports committed from now on must signal again (it may read past them). Returns
    once SIGNAL_GRACE_SECONDS have run: the reports of processes that found the mark meanwhile, committed within
    that grace of finding it, are read (`settle_signal`)."""
    try:
        cache.delete(_SIGNAL_KEY)
    except Exception:
        logger.warning("settle signal: cache unavailable", exc_info=True)
    _sleep(SIGNAL_GRACE_SECONDS)


def settle_mark() -> Count | None:
    """The "settle task on its way" mark as a counter, for a phone's report request to count in the round trip it
    makes before its work (with its session check, rate limit and heartbeat mark): then the report, committed within
    SIGNAL_GRACE_SECONDS, makes no signal round trip of its own after commit. None when reports settle in the
    request (DELIVERY_SETTLE_LINGER_MS < 0) or inside a transaction (its caller may still roll it back)."""
    if settings.DELIVERY_SETTLE_LINGER_MS < 0 or transaction.get_connection().in_atomic_block:
        return None
    return Count(key=_SIGNAL_KEY, amount=1, timeout=SIGNAL_SECONDS)


def settle_clock() -> float:
    """This process's clock as the settle signal reads it: `asked` for `settle_marked`."""
    return _clock()


def settle_marked(*, asked: float, count: int) -> None:
    """The mark `settle_mark` gave was counted: `asked`, this process's clock just before the round trip; `count`,
    the mark's count after it. A count of 1: this request put the mark and publishes the settle task now (others
    already trust it), lingering as a signal after commit would — even should its reports leave nothing to settle."""
    from apps.delivery.tasks import settle_due

    _marked_at["at"] = asked
    if count == 1:
        settle_due.apply_async(queue="default", countdown=settings.DELIVERY_SETTLE_LINGER_MS / 1000)


def settle_signal(*, force: bool = False) -> bool:
    """Publish a settle task unless one is on its way; it starts DELIVERY_SETTLE_LINGER_MS later, so the deliveries
    reported meanwhile settle in its batch (`force`: a task handing on its backlog, at once). Returns whether a task
    was published. A cache failure publishes anyway."""
    from apps.delivery.tasks import settle_due

    if not force:
        if _clock() < _marked_at["at"] + SIGNAL_GRACE_SECONDS:
            return False  # the task on its way reads what this process committed until now (SIGNAL_GRACE_SECONDS)
        try:
            asked = _clock()
            added = cache.add(_SIGNAL_KEY, 1, timeout=SIGNAL_SECONDS)
            _marked_at["at"] = asked
            if not added:
                return False
        except Exception:
            logger.warning("settle signal: cache unavailable, publishing anyway", exc_info=True)
    countdown = None if force else settings.DELIVERY_SETTLE_LINGER_MS / 1000
    settle_due.apply_async(queue="default", countdown=countdown)
    return True


def deliveries_settle_after_reports() -> None:
    """Reports left deliveries unsettled and committed: signal the settle task (after the caller's transaction
    commits), or with DELIVERY_SETTLE_LINGER_MS < 0 settle them here and now."""
    if settings.DELIVERY_SETTLE_LINGER_MS < 0:
        deliveries_settle_due()
        return
    transaction.on_commit(settle_signal, robust=True)


def unsettled_figures(*, now: datetime | None = None) -> tuple[int, float]:
    """How many reports wait for the settle step, and the oldest one's age in seconds (0 when none)."""
    now = now or timezone.now()
    oldest = DeliveryReport.objects.exclude(unsettled="").order_by("received_at").values_list("received_at", flat=True)
    first = oldest.first()
    count = DeliveryReport.objects.exclude(unsettled="").count()
    return count, max((now - first).total_seconds(), 0.0) if first is not None else 0.0
