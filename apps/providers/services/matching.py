"""Matching: which provider's SIM sends a message, with its capacity reserved atomically.

Candidates are SIMs on the recipient's carrier whose provider is active, online with a fresh heartbeat, above the
minimum reputation and under its in-flight limit, and whose caps are not known to be reached (`sims_for_matching`).

How the pick spreads load: each SIM has a fair-share turn (`next_turn_at`). The query takes the
PROVIDER_MATCH_POOL_SIZE earliest turns; one of them is drawn at random, weighted by its score (provider quality
x current load x heartbeat freshness); the chosen SIM's turn moves back by a stride of 3600 / hourly-cap seconds
divided by its provider's quality. So over many picks every eligible SIM gets work, better providers get
proportionally more, a SIM's sends are paced across the hour instead of bunched, and the query is an index walk
of a few rows, flat in the number of providers. (Least-loaded alone would always pick the same idle providers in
a quiet hour; plain weighted random over all candidates would need to read them all.)

Reservation, all or nothing: the provider's in-flight count is incremented only if under the limit, the SIM's
turn is moved only if it is still matchable, and the SIM's hourly and daily counters are incremented only if both
are under their caps (a Lua script on Redis, or a conditional UPDATE). Row locks are always taken provider, then
SIM, then counter (then the provider's other SIMs, when the reservation fills the provider). On PostgreSQL the
database part is one statement (`_reserve_in_one_statement`; with Redis counters `BATCH_RESERVE_SQL`, which
reserves a whole round of a dispatch batch at once): the round trips, not the work, were what a match cost.
Every attempt (or round) runs inside a savepoint sent with its statement, so a refused one gives back what it
changed and the row locks it took before the next one waits for any lock (no lock-order cycles between concurrent
matchers); the savepoints end with the caller's transaction (the match opens no savepoint of its own).
"""

import math
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Case, F, Value, When
from django.utils import timezone

from apps.providers.choices import Availability, Carrier, MatchPriority, ProviderStatus
from apps.providers.models import REPUTATION_MAX, Provider, Sim, StickySender
from apps.providers.selectors import Candidate, sims_for_matching, sims_of_sticky_senders
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.caps import (
    CapCounter,
    Caps,
    DatabaseCapCounter,
    RedisCapCounter,
    Usage,
    Windows,
    cap_counter,
    cap_windows,
    capped_until,
    sim_caps,
)

QUALITY_FLOOR = 0.02
# A heartbeat as old as the offline threshold halves a candidate's weight; fresher ones count fully.
FRESHNESS_FLOOR = 0.5
# A dispatch that loses every race for its first pool tries fresh pools this many times before giving up.
MATCH_ROUNDS = 3

_random = random.Random()


@dataclass(frozen=True)
class Assignment:
    """A reserved SIM for one message. The caller keeps it (at least provider, SIM and `reserved_at`) to release
    the capacity through `capacity_release` when the job ends."""

    provider_id: int
    sim_id: int
    sender: str
    carrier: str
    cross_carrier: bool
    sticky: bool
    reserved_at: datetime


def provider_quality(*, reputation: int, delivered: int, failed: int) -> float:
    """0-1: reputation share times the delivery success rate (smoothed, so a newcomer starts at one half)."""
    success = (delivered + 1) / (delivered + failed + 2)
    return max(reputation / REPUTATION_MAX * success, QUALITY_FLOOR)


def candidate_weight(candidate: Candidate, *, now: datetime) -> float:
    """A candidate's score: quality x spare load x heartbeat freshness."""
    quality = provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )
    load = 1 - candidate.provider_jobs_in_flight / settings.PROVIDER_MAX_JOBS_IN_FLIGHT
    interval = settings.PROVIDER_HEARTBEAT_INTERVAL
    limit = interval * settings.PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS
    age = (now - candidate.provider_last_heartbeat_at).total_seconds()
    freshness = 1.0
    if age > interval and limit > interval:
        freshness = max(FRESHNESS_FLOOR, 1 - (1 - FRESHNESS_FLOOR) * (age - interval) / (limit - interval))
    return max(quality * load * freshness, 1e-9)


def _weighted_order(candidates: list[Candidate], *, now: datetime) -> list[Candidate]:
    # Efraimidis-Spirakis: sorting by u ** (1 / w) gives a weighted random order without replacement; its first
    # element is a draw proportional to weight, the rest are the fallbacks if that one's capacity is gone.
    keyed = [(math.log(1 - _random.random()) / candidate_weight(c, now=now), c) for c in candidates]
    return [c for _, c in sorted(keyed, key=lambda pair: pair[0], reverse=True)]


@dataclass
class _Attempts:
    """What one `provider_match` carries from one reservation attempt to the next."""

    now: datetime
    counter: CapCounter
    windows: Windows
    skip_locked_providers: bool = False
    # SIMs found at a cap: marked after commit (see `_remember_capped`).
    capped: dict[int, datetime] = field(default_factory=dict)
    # PostgreSQL: whether the attempts' savepoint exists, and whether the last attempt was refused and must be
    # rolled back to it before anything else waits for a lock.
    savepoint_set: bool = False
    rollback_pending: bool = False
    # What the last reservation attempt did: the SIM's new turn, whether it took the SIM's last unit in the window,
    # whether it was refused without getting the provider's slot (passed over, when skipping locked providers).
    last_turn: datetime | None = None
    last_full: bool = False
    passed_over: bool = False

    def statement_prefix(self) -> str:
        # Sent in the same round trip as the attempt's statement: setting or returning to the savepoint is free.
        if not self.savepoint_set:
            return f"SAVEPOINT {ATTEMPT_SAVEPOINT}; "
        if self.rollback_pending:
            return f"ROLLBACK TO SAVEPOINT {ATTEMPT_SAVEPOINT}; "
        return ""

    @property
    def database(self) -> BaseDatabaseWrapper:
        # Asking the router marks this request or task as having written (reads then stay on the primary), as the
        # ORM does for its own writes.
        return connections[router.db_for_write(Provider)]

    def roll_back_refused(self) -> None:
        """Undo a refused attempt now (before another query reads what it changed)."""
        if self.rollback_pending:
            with self.database.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {ATTEMPT_SAVEPOINT}")
            self.rollback_pending = False


@dataclass(frozen=True)
class MatchRequest:
    """One message to match (see `provider_match` for what each field means)."""

    recipient_carrier: str
    exclude_provider_ids: frozenset[int] = frozenset()
    priority: str = MatchPriority.NORMAL
    client_ref: str = ""
    recipient: str = ""
    allow_cross_carrier: bool | None = None

    @property
    def cross_carrier_allowed(self) -> bool:
        if self.allow_cross_carrier is None:
            return self.priority != MatchPriority.LOW
        return self.allow_cross_carrier


@dataclass
class BatchMatch:
    """What `providers_match_batch` reserved: an assignment or None per request, in order. `contended`: the indexes
    of requests left without one only because other transactions held the providers they could have had (passed
    over, not waited for): contention, not a lack of capacity."""

    assignments: list[Assignment | None]
    contended: set[int]


def provider_match(
    *,
    recipient_carrier: str,
    exclude_provider_ids: Iterable[int] = (),
    priority: str = MatchPriority.NORMAL,
    client_ref: str = "",
    recipient: str = "",
    allow_cross_carrier: bool | None = None,
    now: datetime | None = None,
    skip_locked_providers: bool = False,
) -> Assignment | None:
    """Pick and reserve a SIM for a message to a subscriber of `recipient_carrier`, or None if there is no capacity
    (the caller keeps the message waiting and tries again later; it is not failed). A batch of one: the rules are
    `providers_match_batch`'s.

    Order: the sticky sender (the provider who last delivered to `recipient` for `client_ref`, if enabled and
    eligible); then on-net SIMs; then, unless `allow_cross_carrier` is False (by default it is False for low
    priority: bulk traffic waits for cheaper on-net capacity), SIMs on any other carrier, marked cross-carrier.
    `exclude_provider_ids` are never chosen: earlier attempts for this message, providers a blacklist names.
    `skip_locked_providers`: the caller's transaction already holds other reservations, so a provider whose row
    another transaction is reserving is passed over instead of waited for. Two transactions each holding one
    provider and waiting for the other's would deadlock; a transaction holding no reservation may wait, since nothing
    waits for it in turn. (PostgreSQL; elsewhere writers take turns anyway.)
    Not audited: a routing decision per message; messaging's job records it.
    """
    request = MatchRequest(
        recipient_carrier=recipient_carrier,
        exclude_provider_ids=frozenset(exclude_provider_ids),
        priority=priority,
        client_ref=client_ref,
        recipient=recipient,
        allow_cross_carrier=allow_cross_carrier,
    )
    return providers_match_batch([request], now=now, skip_locked_providers=skip_locked_providers).assignments[0]


@transaction.atomic(savepoint=False)
def providers_match_batch(
    requests: list[MatchRequest], *, now: datetime | None = None, skip_locked_providers: bool = False
) -> BatchMatch:
    """Match and reserve a SIM for each request, every matching rule applied per request (exclusions, sticky sender,
    on-net first, cross-carrier only where allowed, and the eligibility of `sims_for_matching`), with the round
    trips shared by the batch: one sticky-sender query, one pool query per carrier set, and on PostgreSQL with Redis
    counters the reservations of a round in one statement and one Redis call.

    How: each round picks one candidate per unmatched request (a weighted draw among the earliest turns of what the
    request may have, as `provider_match` always did; never two requests on one provider in a round) and reserves
    them together; a request whose candidate was refused (a race lost, a cap reached) draws again in the next round.
    A reserved SIM's turn moves back in the batch's own copy of the pool too, so later requests in the batch spread
    as consecutive single matches would.

    Locks: a transaction holding no reservation may wait for one provider's row; a round of several reservations,
    or any round once the batch holds one, passes over providers another transaction holds (`skip_locked`, see
    `provider_match`), and says so in `contended`. Runs in the caller's transaction, without a savepoint of its own:
    a refused round is undone to the savepoint sent with it.
    """
    now = now or timezone.now()
    attempts = _Attempts(
        now=now, counter=cap_counter(), windows=cap_windows(now), skip_locked_providers=skip_locked_providers
    )
    batch = _Batch(requests, attempts)
    if settings.PROVIDER_STICKY_SENDER:
        batch.match_sticky()
    batch.match_pools(cross_carrier=False)
    batch.match_pools(cross_carrier=True)
    attempts.roll_back_refused()
    if attempts.capped:
        capped = attempts.capped
        transaction.on_commit(lambda: _remember_capped(capped))
    return BatchMatch(assignments=batch.assignments, contended=batch.contended)


@dataclass
class _Pool:
    """SIMs (ids into `_Batch.known`) a query returned for some carriers; `complete` when it returned all there were."""

    sim_ids: list[int]
    complete: bool


class _Batch:
    """One `providers_match_batch`: the requests, what each has been refused, and the batch's copy of the pools."""

    def __init__(self, requests: list[MatchRequest], attempts: _Attempts) -> None:
        self.requests = requests
        self.attempts = attempts
        self.assignments: list[Assignment | None] = [None] * len(requests)
        self.contended: set[int] = set()
        # Candidates as the batch last saw them (turns moved and loads raised by its own reservations).
        self.known: dict[int, Candidate] = {}
        # SIMs refused in this batch (lost a race, capped, provider full or held elsewhere): no request tries them.
        self.refused: set[int] = set()
        self.full_providers: set[int] = set()
        self.holding = False  # whether the transaction holds a reservation of this batch
        self.sticky: dict[int, list[int]] = {}
        self.private_pools: dict[int, _Pool] = {}
        self.refreshes: dict[int, int] = {}

    def unmatched(self) -> list[int]:
        return [index for index, assignment in enumerate(self.assignments) if assignment is None]

    def usable(self, index: int, sim_ids: Iterable[int], busy: set[int]) -> list[Candidate]:
        # `busy`: providers already picked in this round, as if their turns had moved back (they will have).
        excluded = self.requests[index].exclude_provider_ids
        candidates = [self.known[sim_id] for sim_id in sim_ids if sim_id not in self.refused]
        return [
            c
            for c in candidates
            if c.provider_id not in excluded and c.provider_id not in self.full_providers and c.provider_id not in busy
        ]

    # --- The sticky sender ---------------------------------------------------------------------------------------
    def match_sticky(self) -> None:
        requests = self.requests
        wanting = [index for index in self.unmatched() if requests[index].client_ref and requests[index].recipient]
        if not wanting:
            return
        lookups = [(requests[i].client_ref, requests[i].recipient, requests[i].recipient_carrier) for i in wanting]
        found = sims_of_sticky_senders(
            lookups=list(dict.fromkeys(lookups)),
            now=self.attempts.now,
            remembered_after=self.attempts.now - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS),
        )
        for index in wanting:
            candidates = found.get((self.requests[index].client_ref, self.requests[index].recipient), [])
            for candidate in candidates:
                self.known.setdefault(candidate.id, candidate)
            self.sticky[index] = [candidate.id for candidate in candidates]
        # The same number first, then the provider's other SIMs.
        self.run_rounds([index for index in wanting if self.sticky[index]], self.sticky_options, sticky=True)

    def sticky_options(self, index: int, busy: set[int]) -> list[Candidate]:
        return self.usable(index, self.sticky[index], busy)

    # --- The pools -----------------------------------------------------------------------------------------------
    def match_pools(self, *, cross_carrier: bool) -> None:
        groups: dict[tuple[str, ...], list[int]] = {}
        for index in self.unmatched():
            request = self.requests[index]
            if cross_carrier and not request.cross_carrier_allowed:
                continue
            carriers = (
                tuple(carrier for carrier in Carrier.values if carrier != request.recipient_carrier)
                if cross_carrier
                else (request.recipient_carrier,)
            )
            groups.setdefault(carriers, []).append(index)
        for carriers, indexes in groups.items():
            # Providers every request of the group excludes are left out of the query; the others, per request.
            excluded = frozenset.intersection(*(self.requests[index].exclude_provider_ids for index in indexes))
            pool = self.fetch(carriers, limit=settings.PROVIDER_MATCH_POOL_SIZE + len(indexes), excluded=excluded)
            self.private_pools.clear()
            self.refreshes.clear()

            def options(
                index: int, busy: set[int], carriers: tuple[str, ...] = carriers, pool: _Pool = pool
            ) -> list[Candidate]:
                return self.pool_options(index, busy, carriers, pool)

            self.run_rounds(indexes, options, cross_carrier=cross_carrier)

    def fetch(
        self, carriers: Iterable[str], *, limit: int, excluded: Iterable[int], tried: Iterable[int] = ()
    ) -> _Pool:
        self.attempts.roll_back_refused()
        found = sims_for_matching(
            carriers=list(carriers),
            now=self.attempts.now,
            limit=limit,
            exclude_provider_ids=excluded,
            exclude_sim_ids=tried,
        )
        for candidate in found:
            self.known.setdefault(candidate.id, candidate)
        return _Pool(sim_ids=[candidate.id for candidate in found], complete=len(found) < limit)

    def pool_options(self, index: int, busy: set[int], carriers: tuple[str, ...], pool: _Pool) -> list[Candidate]:
        pool = self.private_pools.get(index, pool)
        usable = self.usable(index, pool.sim_ids, busy)
        if not usable and not pool.complete and self.refreshes.get(index, 0) < MATCH_ROUNDS:
            # Everything this request may have from the shared pool is gone: a pool of its own, as a single match
            # would read (its exclusions and the SIMs refused so far left out).
            self.refreshes[index] = self.refreshes.get(index, 0) + 1
            pool = self.fetch(
                carriers,
                limit=settings.PROVIDER_MATCH_POOL_SIZE,
                excluded=self.requests[index].exclude_provider_ids | self.full_providers,
                tried=self.refused,
            )
            self.private_pools[index] = pool
            usable = self.usable(index, pool.sim_ids, busy)
        usable.sort(key=lambda candidate: candidate.next_turn_at)
        return _weighted_order(usable[: settings.PROVIDER_MATCH_POOL_SIZE], now=self.attempts.now)

    # --- Rounds of reservations ----------------------------------------------------------------------------------
    def run_rounds(
        self,
        indexes: list[int],
        options: Callable[[int, set[int]], list[Candidate]],
        *,
        cross_carrier: bool = False,
        sticky: bool = False,
    ) -> None:
        pending = list(indexes)
        while pending:
            picks: dict[int, Candidate] = {}
            providers: set[int] = set()
            waiting = []
            for index in pending:
                # One reservation per provider in a round (a statement cannot update one row twice).
                choices = options(index, providers)
                if not choices:
                    if not providers or not options(index, set()):
                        continue  # nothing left for it (else: only providers picked in this round; next round)
                    waiting.append(index)
                    continue
                waiting.append(index)
                picks[index] = choices[0]
                providers.add(choices[0].provider_id)
            if not picks:
                return
            if not (self.holding or self.attempts.skip_locked_providers):
                # Holding nothing, the batch's first reservation may wait for a provider another transaction holds
                # (one row: waiting for one lock while holding none cannot deadlock), rather than pass it over.
                first = next(iter(picks))
                picks = {first: picks[first]}
            for index, outcome in self.reserve(picks).items():
                candidate = picks[index]
                if outcome.reserved:
                    self.assignments[index] = _assignment(
                        candidate, cross_carrier=cross_carrier, sticky=sticky, now=self.attempts.now
                    )
                    self.contended.discard(index)
                    self.reserved(candidate, outcome)
                elif not outcome.retry:
                    self.refused.add(candidate.id)
                    if outcome.passed_over:
                        self.contended.add(index)
            pending = [index for index in waiting if self.assignments[index] is None]

    def reserved(self, candidate: Candidate, outcome: "_Outcome") -> None:
        # The batch's copy follows what the reservation did: the SIM's turn moved, its provider has one more job.
        for sim_id, known in list(self.known.items()):
            if known.provider_id == candidate.provider_id:
                self.known[sim_id] = known._replace(provider_jobs_in_flight=known.provider_jobs_in_flight + 1)
        self.known[candidate.id] = self.known[candidate.id]._replace(next_turn_at=outcome.turn)
        if candidate.provider_jobs_in_flight + 1 >= settings.PROVIDER_MAX_JOBS_IN_FLIGHT:
            self.full_providers.add(candidate.provider_id)
        if outcome.full:
            self.refused.add(candidate.id)

    def reserve(self, picks: dict[int, Candidate]) -> "dict[int, _Outcome]":
        attempts = self.attempts
        skip_locked = attempts.skip_locked_providers or self.holding or len(picks) > 1
        if attempts.database.vendor == "postgresql" and isinstance(attempts.counter, RedisCapCounter):
            outcomes = _reserve_together(picks, attempts, skip_locked=skip_locked)
        else:
            outcomes = {}
            for index, candidate in picks.items():
                attempts.passed_over = False
                reserved = _reserve(candidate, attempts, skip_locked=skip_locked)
                outcomes[index] = _Outcome(reserved=reserved, passed_over=attempts.passed_over and skip_locked)
                if reserved:
                    skip_locked = True  # holding a reservation now
                    # The next attempt's refusal must not undo this one: it gets a savepoint of its own.
                    attempts.savepoint_set = False
                    outcomes[index] = _Outcome(reserved=True, turn=attempts.last_turn, full=attempts.last_full)
        if any(outcome.reserved for outcome in outcomes.values()):
            self.holding = True
        return outcomes


@dataclass(frozen=True)
class _Outcome:
    """One pick's reservation: reserved (the SIM's new turn, and whether that was its last unit in the window), or
    refused (`passed_over`: its provider was held by another transaction), or undone with its round (`retry`)."""

    reserved: bool
    turn: datetime | None = None
    full: bool = False
    passed_over: bool = False
    retry: bool = False


def _plan(candidate: Candidate, now: datetime) -> tuple[Caps, datetime]:
    """The candidate's caps now, and its next turn should it be reserved."""
    caps = sim_caps(
        created_at=candidate.created_at, hourly_cap=candidate.hourly_cap, daily_cap=candidate.daily_cap, now=now
    )
    quality = provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )
    stride = timedelta(seconds=3600 / settings.PROVIDER_SIM_HOURLY_CAP / quality)
    return caps, max(now, candidate.next_turn_at) + stride


def _reserve(candidate: Candidate, attempts: _Attempts, *, skip_locked: bool) -> bool:
    """Reserve one candidate (all or nothing); `attempts.last_turn` / `last_full` say what a reservation did."""
    caps, turn = _plan(candidate, attempts.now)
    attempts.last_turn, attempts.last_full = turn, False
    if attempts.database.vendor == "postgresql":
        return _reserve_in_one_statement(candidate, caps=caps, turn=turn, attempts=attempts, skip_locked=skip_locked)
    return _reserve_step_by_step(candidate, caps=caps, turn=turn, attempts=attempts)


ATTEMPT_SAVEPOINT = "provider_match_attempt"

# The provider's slot, then the SIM's turn (which also takes the SIM out of the index if the slot was the
# provider's last). Each part runs only if the one before it changed its row (UPDATE ... FROM an empty CTE changes
# nothing and locks nothing), so the locks are taken in the usual order.
_SLOT_AND_TURN = """WITH slot AS (
    UPDATE providers_provider SET jobs_in_flight = jobs_in_flight + 1
    WHERE id = {provider} AND status = %(active)s AND availability = %(online)s
        AND jobs_in_flight < %(max_jobs)s
    RETURNING jobs_in_flight
), turn AS (
    UPDATE providers_sim
    SET next_turn_at = %(turn)s, last_assigned_at = %(now)s, matchable = slot.jobs_in_flight < %(max_jobs)s
    FROM slot
    WHERE providers_sim.id = %(sim_id)s AND providers_sim.matchable
    RETURNING providers_sim.id
)"""
# The provider is full: its other SIMs leave the index until a release (see `capacity_release`), so that when
# everyone is busy a match does not walk every busy provider's SIMs.
_FULL_PROVIDER = """, full_provider AS (
    UPDATE providers_sim SET matchable = false
    FROM slot, {after}
    WHERE providers_sim.provider_id = %(provider_id)s AND providers_sim.id <> %(sim_id)s
        AND providers_sim.matchable AND slot.jobs_in_flight >= %(max_jobs)s
)"""
# Database counters: the same conditional increment as `DatabaseCapCounter.reserve` (keep the two in step), as an
# upsert so a SIM without a counter row gets one. ON CONFLICT locks the row and checks its WHERE on the newest
# version, so concurrent reservations cannot pass a cap. `seen` is the row as it was before this statement: on a
# refusal it says which cap was reached.
RESERVE_WITH_DATABASE_COUNTER_SQL = (
    _SLOT_AND_TURN  # noqa: S608 - constant SQL only
    + """, counter AS (
    INSERT INTO providers_simcounter AS counter (sim_id, hour_key, hour_count, day_key, day_count)
    SELECT turn.id, %(hour_key)s, 1, %(day_key)s, 1 FROM turn
    ON CONFLICT (sim_id) DO UPDATE SET
        hour_count = CASE WHEN counter.hour_key = %(hour_key)s THEN counter.hour_count + 1 ELSE 1 END,
        hour_key = %(hour_key)s,
        day_count = CASE WHEN counter.day_key = %(day_key)s THEN counter.day_count + 1 ELSE 1 END,
        day_key = %(day_key)s
    WHERE (counter.hour_key <> %(hour_key)s OR counter.hour_count < %(hourly_cap)s)
        AND (counter.day_key <> %(day_key)s OR counter.day_count < %(daily_cap)s)
    RETURNING hour_count, day_count
)"""
    + _FULL_PROVIDER.format(after="counter")
    + """
SELECT (SELECT jobs_in_flight FROM slot), (SELECT count(*) FROM turn),
    (SELECT hour_count FROM counter), (SELECT day_count FROM counter),
    seen.hour_key, seen.hour_count, seen.day_key, seen.day_count
FROM (VALUES (1)) AS one LEFT JOIN providers_simcounter seen ON seen.sim_id = %(sim_id)s"""
)
# Other counters (Redis) are reserved after the statement; a refusal there rolls the statement back.
RESERVE_SQL = (
    _SLOT_AND_TURN  # noqa: S608 - constant SQL only
    + _FULL_PROVIDER.format(after="turn")
    + """
SELECT (SELECT jobs_in_flight FROM slot), (SELECT count(*) FROM turn)"""
)


# How the reservation names its provider: waiting for the row's lock, or passing over a provider another transaction
# is reserving (see `provider_match`'s `skip_locked_providers`).
_PROVIDER_WAIT = "%(provider_id)s"
_PROVIDER_SKIP_LOCKED = "(SELECT id FROM providers_provider WHERE id = %(provider_id)s FOR NO KEY UPDATE SKIP LOCKED)"


def reservation_statement(
    candidate: Candidate,
    *,
    caps: Caps,
    turn: datetime,
    now: datetime,
    windows: Windows,
    counted_here: bool,
    skip_locked: bool = False,
) -> tuple[str, dict[str, Any]]:
    """The PostgreSQL reservation of `candidate` (with the database counters if `counted_here`; passing over a
    provider whose row another transaction holds if `skip_locked`): SQL and parameters. The benchmark EXPLAINs it."""
    params = {
        "provider_id": candidate.provider_id,
        "sim_id": candidate.id,
        "active": ProviderStatus.ACTIVE.value,
        "online": Availability.ONLINE.value,
        "max_jobs": settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
        "turn": turn,
        "now": now,
        "hour_key": windows.hour_key,
        "day_key": windows.day_key,
        "hourly_cap": caps.hourly,
        "daily_cap": caps.daily,
    }
    sql = RESERVE_WITH_DATABASE_COUNTER_SQL if counted_here else RESERVE_SQL
    return sql.replace("{provider}", _PROVIDER_SKIP_LOCKED if skip_locked else _PROVIDER_WAIT), params


def _reserve_in_one_statement(
    candidate: Candidate, *, caps: Caps, turn: datetime, attempts: _Attempts, skip_locked: bool
) -> bool:
    windows, counted_here = attempts.windows, isinstance(attempts.counter, DatabaseCapCounter)
    sql, params = reservation_statement(
        candidate,
        caps=caps,
        turn=turn,
        now=attempts.now,
        windows=windows,
        counted_here=counted_here,
        skip_locked=skip_locked,
    )
    database = attempts.database
    with database.cursor() as cursor:
        cursor.execute(attempts.statement_prefix() + sql, params)
        while cursor.description is None and cursor.nextset():  # the savepoint's result comes first
            pass
        row = cursor.fetchone()
    attempts.savepoint_set, attempts.rollback_pending = True, False
    slot_taken, sim_taken = row[0] is not None, row[1] == 1
    if not (slot_taken and sim_taken):
        # Refused; had it lost a race, it may hold the row's lock: let it go before the next attempt.
        attempts.rollback_pending = True
        attempts.passed_over = not slot_taken
        return False
    if counted_here:
        if row[2] is None:
            attempts.rollback_pending = True
            hour_key, hour_count, day_key, day_count = row[4:]
            seen = Usage(
                hour=hour_count if hour_key == windows.hour_key else 0,
                day=day_count if day_key == windows.day_key else 0,
            )
            attempts.capped[candidate.id] = capped_until(caps=caps, usage=seen, windows=windows) or windows.hour_ends_at
            return False
        usage = Usage(hour=row[2], day=row[3])
    else:
        reservation = attempts.counter.reserve(sim_id=candidate.id, caps=caps, windows=windows)
        usage = reservation.usage
        if not reservation.reserved:
            attempts.rollback_pending = True
            full_until = capped_until(caps=caps, usage=usage, windows=windows) if usage else None
            attempts.capped[candidate.id] = full_until or windows.hour_ends_at
            return False
    full_until = capped_until(caps=caps, usage=usage, windows=windows) if usage else None
    if full_until:
        _mark_full({candidate.id: (full_until, turn)})
        attempts.last_full = True
    return True


def _mark_full(sims: dict[int, tuple[datetime, datetime]]) -> None:
    """Those reservations took their SIMs' last unit in the window (sim id -> (until, turn)): skip the SIMs in
    queries, and queue each behind its window. One statement."""
    Sim.objects.filter(pk__in=sims).update(
        capped_until=Case(*[When(pk=sim_id, then=Value(until)) for sim_id, (until, _) in sims.items()]),
        next_turn_at=Case(*[When(pk=sim_id, then=Value(max(turn, until))) for sim_id, (until, turn) in sims.items()]),
    )


# The batch's reservations, one row per pick (distinct providers), in one statement: the same conditions and lock
# order as `_SLOT_AND_TURN` and `_FULL_PROVIDER` — the picked providers locked in id order (or those another
# transaction holds passed over), their slots, then their SIMs' turns only where the slot was taken, then the other
# SIMs of providers that are now full. Cap counters are Redis's, reserved afterwards in one call. Each row says
# whether its provider was locked, its slot taken and its SIM's turn moved.
BATCH_RESERVE_SQL = """WITH request (position, provider_id, sim_id, turn) AS (VALUES {values}),
locked AS (
    SELECT provider.id FROM providers_provider provider
    WHERE provider.id IN (SELECT provider_id FROM request)
    ORDER BY provider.id FOR NO KEY UPDATE{skip_locked}
), slot AS (
    UPDATE providers_provider SET jobs_in_flight = jobs_in_flight + 1
    FROM locked
    WHERE providers_provider.id = locked.id AND status = %s AND availability = %s AND jobs_in_flight < %s
    RETURNING providers_provider.id, providers_provider.jobs_in_flight
), turn AS (
    UPDATE providers_sim
    SET next_turn_at = request.turn, last_assigned_at = %s, matchable = slot.jobs_in_flight < %s
    FROM request JOIN slot ON slot.id = request.provider_id
    WHERE providers_sim.id = request.sim_id AND providers_sim.matchable
    RETURNING providers_sim.id
), full_provider AS (
    UPDATE providers_sim SET matchable = false
    FROM request JOIN slot ON slot.id = request.provider_id JOIN turn ON turn.id = request.sim_id
    WHERE providers_sim.provider_id = request.provider_id AND providers_sim.id <> request.sim_id
        AND providers_sim.matchable AND slot.jobs_in_flight >= %s
)
SELECT request.position, locked.id IS NOT NULL, slot.id IS NOT NULL, turn.id IS NOT NULL
FROM request
    LEFT JOIN locked ON locked.id = request.provider_id
    LEFT JOIN slot ON slot.id = request.provider_id
    LEFT JOIN turn ON turn.id = request.sim_id"""


def batch_reservation_statement(
    picks: list[tuple[Candidate, datetime]], *, now: datetime, skip_locked: bool
) -> tuple[str, list[Any]]:
    """The PostgreSQL reservation of several candidates (each with its new turn; distinct providers), without the
    cap counters: SQL and parameters. The benchmark EXPLAINs it."""
    values = ", ".join(["(%s::integer, %s::bigint, %s::bigint, %s::timestamptz)"] * len(picks))
    params: list[Any] = []
    for position, (candidate, turn) in enumerate(picks):
        params += [position, candidate.provider_id, candidate.id, turn]
    max_jobs = settings.PROVIDER_MAX_JOBS_IN_FLIGHT
    params += [ProviderStatus.ACTIVE.value, Availability.ONLINE.value, max_jobs, now, max_jobs, max_jobs]
    sql = BATCH_RESERVE_SQL.replace("{values}", values).replace("{skip_locked}", " SKIP LOCKED" if skip_locked else "")
    return sql, params


def _reserve_together(picks: dict[int, Candidate], attempts: _Attempts, *, skip_locked: bool) -> "dict[int, _Outcome]":
    """Reserve the picks in one statement (sent with the round's savepoint) and one Redis call. A pick refused by the
    database changed nothing; should any pick's slot be taken without its SIM (the SIM left matching meanwhile) or
    Redis refuse one (a cap reached), the round is undone to its savepoint, the counters Redis gave are handed back,
    and the picks that were not refused are tried again in the next round."""
    indexes = list(picks)
    planned = [_plan(picks[index], attempts.now) for index in indexes]
    sql, params = batch_reservation_statement(
        [(picks[index], turn) for index, (_, turn) in zip(indexes, planned, strict=True)],
        now=attempts.now,
        skip_locked=skip_locked,
    )
    with attempts.database.cursor() as cursor:
        cursor.execute(attempts.statement_prefix() + sql, params)
        while cursor.description is None and cursor.nextset():  # the savepoint's result comes first
            pass
        rows = sorted(cursor.fetchall())
    attempts.savepoint_set, attempts.rollback_pending = True, False
    outcomes: dict[int, _Outcome] = {}
    taken = []
    undo = False
    for (position, locked, slot_taken, sim_taken), index in zip(rows, indexes, strict=True):
        if slot_taken and sim_taken:
            taken.append(position)
            continue
        outcomes[index] = _Outcome(reserved=False, passed_over=skip_locked and not locked)
        # A provider locked but refused (full, offline) stays locked until undone; a slot without its SIM must be.
        undo = undo or locked
    windows = attempts.windows
    if taken and not any(slot and not sim for _, _, slot, sim in rows):
        counter = attempts.counter
        assert isinstance(counter, RedisCapCounter)
        reservations = counter.reserve_many(
            sims=[(picks[indexes[position]].id, planned[position][0]) for position in taken], windows=windows
        )
        refused = [
            position for position, reservation in zip(taken, reservations, strict=True) if not reservation.reserved
        ]
        if not refused:
            # Kept: the next round, if any, gets a savepoint of its own, so that undoing it does not undo these.
            attempts.savepoint_set = False
            full = {}
            for position, reservation in zip(taken, reservations, strict=True):
                caps, turn = planned[position]
                until = capped_until(caps=caps, usage=reservation.usage, windows=windows) if reservation.usage else None
                if until:
                    full[picks[indexes[position]].id] = (until, turn)
                outcomes[indexes[position]] = _Outcome(reserved=True, turn=turn, full=bool(until))
            if full:
                _mark_full(full)
            # Providers locked but refused stay locked until commit: harmless, since from here on this batch passes
            # over locked providers, so it waits for no one who could be waiting for them.
            return outcomes
        counter.release_many(
            sim_ids=[picks[indexes[p]].id for p, r in zip(taken, reservations, strict=True) if r.reserved],
            windows=windows,
        )
        for position, reservation in zip(taken, reservations, strict=True):
            if not reservation.reserved:
                caps = planned[position][0]
                sim_id = picks[indexes[position]].id
                full_until = capped_until(caps=caps, usage=reservation.usage, windows=windows)
                attempts.capped[sim_id] = full_until or windows.hour_ends_at
                outcomes[indexes[position]] = _Outcome(reserved=False)
    # Undo the round: what was taken is tried again.
    attempts.rollback_pending = True
    for position in taken:
        outcomes.setdefault(indexes[position], _Outcome(reserved=False, retry=True))
    return outcomes


class _NoRoom(Exception):
    """The candidate lost a race for its last unit of capacity; the savepoint is rolled back."""


def _reserve_step_by_step(candidate: Candidate, *, caps: Caps, turn: datetime, attempts: _Attempts) -> bool:
    """The reservation as separate conditional UPDATEs in a savepoint, for databases other than PostgreSQL
    (SQLite in development and tests, where writers take turns anyway)."""
    now, counter, windows = attempts.now, attempts.counter, attempts.windows
    try:
        with transaction.atomic():
            took_slot = Provider.objects.filter(
                pk=candidate.provider_id,
                status=ProviderStatus.ACTIVE,
                availability=Availability.ONLINE,
                jobs_in_flight__lt=settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
            ).update(jobs_in_flight=F("jobs_in_flight") + 1)
            if not took_slot:
                raise _NoRoom
            if not Sim.objects.filter(pk=candidate.id, matchable=True).update(next_turn_at=turn, last_assigned_at=now):
                raise _NoRoom  # removed or taken out of matching since the query read it
            reservation = counter.reserve(sim_id=candidate.id, caps=caps, windows=windows)
            full_until = None
            if reservation.usage is not None:
                full_until = capped_until(caps=caps, usage=reservation.usage, windows=windows)
            if not reservation.reserved:
                attempts.capped[candidate.id] = full_until or windows.hour_ends_at
                raise _NoRoom
            if full_until:
                _mark_full({candidate.id: (full_until, turn)})
                attempts.last_full = True
            if candidate.provider_jobs_in_flight + 1 >= settings.PROVIDER_MAX_JOBS_IN_FLIGHT:
                # The provider is (very likely) full: out of the index until a release. Had a release come in
                # meanwhile, the next release or sweep puts the SIMs back.
                Sim.objects.filter(provider_id=candidate.provider_id, matchable=True).update(matchable=False)
    except _NoRoom:
        return False
    return True


def _remember_capped(capped: dict[int, datetime]) -> None:
    # After commit and one short statement per SIM, so a refused attempt never holds a SIM's row lock while the
    # matcher goes on to lock other rows (no lock-order cycles between concurrent matchers).
    for sim_id, until in capped.items():
        Sim.objects.filter(pk=sim_id).update(capped_until=until)


def _assignment(candidate: Candidate, *, cross_carrier: bool, sticky: bool, now: datetime) -> Assignment:
    return Assignment(
        provider_id=candidate.provider_id,
        sim_id=candidate.id,
        sender=candidate.msisdn,
        carrier=candidate.carrier,
        cross_carrier=cross_carrier,
        sticky=sticky,
        reserved_at=now,
    )


@transaction.atomic
def capacity_release(*, provider_id: int, sim_id: int, reserved_at: datetime, sms_sent: bool) -> None:
    """Give back what `provider_match` reserved, when the job ends: the provider's in-flight slot always; the SIM's
    hour and day units only if the SMS was never sent (a sent one counts against the carrier's limits).

    Call exactly once per assignment, from the job's own state change (messaging's conditional update makes that
    once), inside that change's transaction. Not audited: the job's transition is the record.

    Redis counters are given back only once that transaction commits: Redis does not roll back, and a refund that
    outlived a rolled-back report would leave the job live with its unit returned, so its SIM could pass its cap.
    Should the refund fail after the commit, the unit stays counted until its window ends (the safe side).
    """
    Provider.objects.filter(pk=provider_id, jobs_in_flight__gt=0).update(jobs_in_flight=F("jobs_in_flight") - 1)
    # Room again: the provider's usable SIMs go back into matching (a no-op unless it was full).
    Sim.objects.filter(
        matchable_provider_filter(), provider_id=provider_id, matchable=False, active=True, ready=True
    ).update(matchable=True)
    if not sms_sent:
        Sim.objects.filter(pk=sim_id, capped_until__isnull=False).update(capped_until=None)
        counter, windows = cap_counter(), cap_windows(reserved_at)
        if isinstance(counter, DatabaseCapCounter):
            counter.release(sim_id=sim_id, windows=windows)  # rows: committed or rolled back with the job
        else:
            transaction.on_commit(lambda: counter.release(sim_id=sim_id, windows=windows), robust=True)


def sticky_sender_remember(
    *, client_ref: str, recipient: str, provider_id: int, sim_id: int, now: datetime | None = None
) -> None:
    """Remember who delivered to `recipient` for `client_ref` (messaging calls this on a confirmed delivery).

    An upsert, so it is safe to repeat. Not audited: a routing hint derived from a recorded delivery.
    """
    StickySender.objects.bulk_create(
        [
            StickySender(
                client_ref=client_ref,
                recipient=recipient,
                provider_id=provider_id,
                sim_id=sim_id,
                updated_at=now or timezone.now(),
            )
        ],
        update_conflicts=True,
        unique_fields=["client_ref", "recipient"],
        update_fields=["provider", "sim", "updated_at"],
    )


def sticky_senders_prune(*, now: datetime | None = None) -> int:
    """Forget sticky senders older than PROVIDER_STICKY_SENDER_DAYS (matching ignores them anyway)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS)
    deleted, _ = StickySender.objects.filter(updated_at__lt=cutoff).delete()
    return deleted
