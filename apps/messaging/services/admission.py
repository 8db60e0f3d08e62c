"""Admission control: refuse new messages the network cannot carry, before they are stored.

Accepting work the phones and the report path cannot absorb is what sends messages twice and loses them under
overload: reports queue behind new sends, leases end before the `sent` report is processed. So ingest compares the
backlog with what the network can take, and refuses beyond it with 429 `overloaded` and a Retry-After.

What is measured (the snapshot, `admission_refresh`): per carrier, the messages waiting for a phone or held by a live
lease (queued and due, or assigned) against the online SIMs' in-flight capacity times ADMISSION_BACKLOG_ROUNDS (never
below ADMISSION_MIN_BACKLOG per carrier, so a network with few phones online still queues some work); the carriers'
headroom is the sum of what each can still take. And the report path's lag: the share of acknowledged jobs without
a `sent` report for longer than ADMISSION_REPORT_LAG_SECONDS. When more than ADMISSION_REPORT_LAG_SHARE of them are
that late, reports are not keeping up and only high priority is admitted.

And the measured drain: how many messages left the backlog per second (sent, delivered, failed...: reports and
leases processed) between the last two snapshots — the backlog then, plus what was admitted since, minus the backlog
now — smoothed over snapshots. Capacity says what the phones could take; the drain says what the whole path (web,
workers, database, phones) really clears. The backlog may hold what drains in ADMISSION_DRAIN_SECONDS (default half a
lease: admitted work is then reported on before its lease ends), never less than ADMISSION_MIN_BACKLOG; the headroom
is the smaller of that and the capacity's. Until an interval between two snapshots has left part of the earlier
backlog waiting (the path behind its demand), capacity alone decides; an interval that kept up only raises the figure.

It is cheap on the send path: the snapshot is a few grouped queries, taken every ADMISSION_SNAPSHOT_SECONDS by beat
(or by the first request that finds it stale, under a cache lock) and kept in the shared cache, read once per
request. Each snapshot has a version; what is admitted since it was taken is counted in the shared
cache under that version (in the same round trip as the API key's rate and quota counters), so the headroom is
shared by every web process and spent once.

Fair across clients: once half of the headroom is spent, a client whose backlog plus what it was admitted since the
snapshot is above its equal share (the backlog and headroom divided by the clients with work waiting) is refused
first, so a flooding client cannot crowd out the others. High priority keeps ADMISSION_HIGH_RESERVED_SHARE of the
headroom: normal and low stop before it, high may use it all.
"""

import math
import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Q
from django.utils import timezone
from prometheus_client import Counter

from apps.core.counters import Count as CounterCount
from apps.core.counters import counter_give_back, counters_add
from apps.messaging.choices import JobStatus, MessageStatus, Priority
from apps.messaging.errors import Overloaded
from apps.messaging.models import Job, Message
from apps.providers.choices import Carrier
from apps.providers.selectors import sims_online_by_carrier

REFUSED = Counter(
    "peerpower_admission_refused_total",
    "Messages refused by admission control (429 overloaded), by why: the headroom was spent, the client was above "
    "its fair share, or reports were lagging.",
    ["reason"],
)
SNAPSHOT_KEY = "messaging:admission:snapshot"
REFRESH_LOCK_KEY = "messaging:admission:refreshing"


@dataclass(frozen=True)
class Snapshot:
    """What the network can take now. `version` names the snapshot (its time in milliseconds)."""

    version: int
    taken_at: float
    headroom: int
    backlog: int
    client_backlog: dict[int, int] = field(default_factory=dict)
    carriers: dict[str, tuple[int, int]] = field(default_factory=dict)  # carrier → (backlog, limit)
    accepted_jobs: int = 0
    late_reports: int = 0
    drain_per_second: float | None = None  # smoothed messages leaving the backlog per second; None: not measured yet

    @property
    def reports_lagging(self) -> bool:
        if self.accepted_jobs == 0:
            return False
        return self.late_reports / self.accepted_jobs > settings.ADMISSION_REPORT_LAG_SHARE


def admission_measure(previous: Snapshot | None = None) -> Snapshot:
    """Measure the backlog and the capacity now (three grouped queries), and the drain since `previous`."""
    now = timezone.now()
    rows = (
        Message.objects.filter(
            Q(status=MessageStatus.QUEUED, next_attempt_at__lte=now) | Q(status=MessageStatus.ASSIGNED)
        )
        .values_list("carrier", "organization_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    by_carrier: dict[str, int] = {}
    by_client: dict[int, int] = {}
    for carrier, organization_id, n in rows:
        by_carrier[carrier] = by_carrier.get(carrier, 0) + n
        by_client[organization_id] = by_client.get(organization_id, 0) + n
    sims = sims_online_by_carrier()
    carriers = {}
    # Every carrier takes at least the minimum backlog, whether or not anybody queued for it or a phone serves it.
    for carrier in {*Carrier.values, *by_carrier, *sims}:
        capacity = sims.get(carrier, 0) * settings.PROVIDER_MAX_JOBS_IN_FLIGHT
        limit = max(settings.ADMISSION_MIN_BACKLOG, capacity * settings.ADMISSION_BACKLOG_ROUNDS)
        carriers[carrier] = (by_carrier.get(carrier, 0), limit)
    headroom = sum(max(0, limit - backlog) for backlog, limit in carriers.values())
    backlog = sum(by_carrier.values())
    taken_at = time.time()
    drain = _drain(previous, backlog=backlog, taken_at=taken_at)
    if drain is not None and settings.ADMISSION_DRAIN_SECONDS > 0:
        drain_limit = max(settings.ADMISSION_MIN_BACKLOG, math.floor(drain * settings.ADMISSION_DRAIN_SECONDS))
        headroom = min(headroom, max(0, drain_limit - backlog))
    lag_before = now - timedelta(seconds=settings.ADMISSION_REPORT_LAG_SECONDS)
    reports = Job.objects.filter(status=JobStatus.ACCEPTED).aggregate(
        accepted=Count("id"), late=Count("id", filter=Q(accepted_at__lt=lag_before))
    )
    return Snapshot(
        version=int(taken_at * 1000),
        taken_at=taken_at,
        headroom=headroom,
        backlog=backlog,
        client_backlog=by_client,
        carriers=carriers,
        accepted_jobs=reports["accepted"],
        late_reports=reports["late"],
        drain_per_second=drain,
    )


# Weight of the newest measurement in the smoothed drain: a snapshot's few seconds are noisy (a batch of reports
# lands at once), half-and-half follows a real change within a few snapshots.
DRAIN_SMOOTHING = 0.5


def _drain(previous: Snapshot | None, *, backlog: int, taken_at: float) -> float | None:
    """Messages that left the backlog per second since `previous`, smoothed with its own figure. What was admitted
    meanwhile is in the shared counter under the previous snapshot's version.

    When the path cleared everything that waited at the start of the interval, it kept up with the demand: what it
    drained is what was offered, a floor under what it can clear, not its measure. Such an interval may raise the
    figure, never lower it, and leaves it unmeasured (capacity alone decides) if it was: an idle network drains
    nothing, and taking that for its speed refused the first burst after a quiet spell beyond ADMISSION_MIN_BACKLOG.
    Only an interval that left part of the earlier backlog waiting (the path behind, or stalled) measures it."""
    if previous is None:
        return None
    elapsed = taken_at - previous.taken_at
    if elapsed < 1:  # too short to measure (two refreshes at once): keep what was known
        return previous.drain_per_second
    admitted = cache.get(f"messaging:admission:{previous.version}:all", 0)
    drained = previous.backlog + admitted - backlog
    measured = max(0.0, drained / elapsed)
    known = previous.drain_per_second
    kept_up = previous.backlog == 0 or drained >= previous.backlog  # nothing waited, or all of it left
    if known is None:
        return None if kept_up else measured
    smoothed = DRAIN_SMOOTHING * measured + (1 - DRAIN_SMOOTHING) * known
    return max(known, smoothed) if kept_up else smoothed


def admission_refresh() -> Snapshot:
    """Take a new snapshot and share it (beat runs this every ADMISSION_SNAPSHOT_SECONDS)."""
    snapshot = admission_measure(previous=cache.get(SNAPSHOT_KEY))
    # Kept well past its interval: a stale snapshot (beat and the refreshing request both late) is still a better
    # judge than none, and the counters under its version keep spending the same headroom.
    cache.set(SNAPSHOT_KEY, snapshot, timeout=settings.ADMISSION_SNAPSHOT_SECONDS * 12)
    return _remember(snapshot)


def admission_snapshot() -> Snapshot:
    """The shared snapshot, refreshed when stale by the one request that takes the refresh lock (the others go on
    with the stale one; with none at all, each measures).

    Each process reuses what it read for ADMISSION_LOCAL_CACHE_SECONDS (a round trip to the shared cache less on
    nearly every send), never past the snapshot's own interval: a stale one is read again, and refreshed."""
    now = time.time()
    remembered = _remembered
    if (
        remembered is not None
        and 0 <= now - remembered.read_at < settings.ADMISSION_LOCAL_CACHE_SECONDS  # a clock set back reads again
        and now - remembered.snapshot.taken_at <= settings.ADMISSION_SNAPSHOT_SECONDS
    ):
        return remembered.snapshot
    snapshot = cache.get(SNAPSHOT_KEY)
    if snapshot is None:
        return admission_refresh()
    if now - snapshot.taken_at > settings.ADMISSION_SNAPSHOT_SECONDS:
        # One refresher per stale snapshot: the lock is named after the snapshot it replaces.
        lock = f"{REFRESH_LOCK_KEY}:{snapshot.version}"
        if cache.add(lock, 1, timeout=settings.ADMISSION_SNAPSHOT_SECONDS * 12):
            return admission_refresh()
    return _remember(snapshot)


@dataclass(frozen=True)
class _Remembered:
    snapshot: Snapshot
    read_at: float


# This process's last read of the shared snapshot. Replaced whole (one assignment), so threads need no lock. A
# snapshot another process took reaches this one within ADMISSION_LOCAL_CACHE_SECONDS: meanwhile its claims are
# counted under the previous snapshot's version, so what the new snapshot admits may be overspent by what this
# process admits in that second (the backlog it measured already holds everything stored before it).
_remembered: _Remembered | None = None


def _remember(snapshot: Snapshot) -> Snapshot:
    global _remembered
    _remembered = _Remembered(snapshot=snapshot, read_at=time.time())
    return snapshot


def admission_forget() -> None:
    """Read the shared snapshot on the next send (tests: the shared cache was emptied, this process's copy not)."""
    global _remembered
    _remembered = None


@dataclass(frozen=True)
class Admission:
    """One request's claim on the headroom: `counts()` go into the send path's counter round trip, `check()` judges
    the counters' new values and refuses (giving the claim back) when the network cannot take the messages."""

    snapshot: Snapshot
    organization_id: int
    count: int
    high: bool

    @property
    def _keys(self) -> tuple[str, str]:
        prefix = f"messaging:admission:{self.snapshot.version}"
        return f"{prefix}:all", f"{prefix}:client:{self.organization_id}"

    def counts(self) -> list[CounterCount]:
        """What this claim adds (the network's and the client's admitted messages), and a read of the clients new
        since the snapshot (adding 0), all in the send path's one counter round trip; `check` takes their values."""
        # They outlive the snapshot's interval several times over: a stale snapshot keeps its spending.
        timeout = settings.ADMISSION_SNAPSHOT_SECONDS * 12
        return [
            *(CounterCount(key=key, amount=self.count, timeout=timeout) for key in self._keys),
            CounterCount(key=self._newcomers_key, amount=0, timeout=timeout),
        ]

    def give_back(self) -> None:
        for key in self._keys:
            counter_give_back(key, self.count)

    def check(self, admitted_total: int, admitted_client: int, newcomers: int) -> None:
        """The values of `counts()` after counting: what the counters hold for this snapshot, this request
        included, and the clients new since it (this one not yet counted)."""
        snapshot = self.snapshot
        new_client = self.organization_id not in snapshot.client_backlog and admitted_client == self.count
        # Clients with work waiting, and those that have sent since the snapshot (each counted at its first claim).
        clients = len(snapshot.client_backlog) + (self._newcomer_counted() if new_client else newcomers)
        headroom = snapshot.headroom
        reserved = math.ceil(headroom * settings.ADMISSION_HIGH_RESERVED_SHARE)
        limit = headroom if self.high else headroom - reserved
        if snapshot.reports_lagging and not self.high:
            limit = 0
        if admitted_total > limit:
            self._refuse(new_client, "reports_lagging" if limit == 0 else "headroom")
        if admitted_total > limit / 2:
            fair_share = (snapshot.backlog + limit) / max(1, clients)
            if snapshot.client_backlog.get(self.organization_id, 0) + admitted_client > fair_share:
                self._refuse(new_client, "fair_share")

    @property
    def _newcomers_key(self) -> str:
        return f"messaging:admission:{self.snapshot.version}:newcomers"

    def _newcomer_counted(self) -> int:
        timeout = settings.ADMISSION_SNAPSHOT_SECONDS * 12
        (newcomers,) = counters_add([CounterCount(key=self._newcomers_key, amount=1, timeout=timeout)])
        return newcomers

    def _refuse(self, new_client: bool, reason: str) -> None:
        REFUSED.labels(reason=reason).inc(self.count)
        self.give_back()
        if new_client:  # it holds nothing now: not a client competing for the headroom after all
            counter_give_back(self._newcomers_key, 1)
        lag = 3 if self.snapshot.reports_lagging else 1
        raise Overloaded(retry_after=max(1, settings.ADMISSION_SNAPSHOT_SECONDS * lag))


def admission_claim(*, organization_id: int, count: int, priority: str) -> Admission | None:
    """This request's claim on the network's headroom, or None when admission control is off."""
    if not settings.ADMISSION_ENABLED or count <= 0:
        return None
    return Admission(
        snapshot=admission_snapshot(), organization_id=organization_id, count=count, high=priority == Priority.HIGH
    )
