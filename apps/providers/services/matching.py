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
database part is one statement (`_reserve_in_one_statement`): the round trips, not the work, were what a match
cost. Every attempt runs inside a savepoint, so a refused attempt gives back what it changed and every row lock
it took before the next attempt waits for any lock (no lock-order cycles between concurrent matchers); the
savepoint ends with `provider_match`'s own transaction or savepoint.
"""

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import F
from django.utils import timezone

from apps.providers.choices import Availability, Carrier, MatchPriority, ProviderStatus
from apps.providers.models import REPUTATION_MAX, Provider, Sim, StickySender
from apps.providers.selectors import Candidate, sims_for_matching, sims_of_sticky_sender
from apps.providers.services.availability import matchable_provider_filter
from apps.providers.services.caps import (
    CapCounter,
    Caps,
    DatabaseCapCounter,
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


@transaction.atomic
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
    (the caller keeps the message waiting and tries again later; it is not failed).

    Order: the sticky sender (the provider who last delivered to `recipient` for `client_ref`, if enabled and
    eligible); then on-net SIMs; then, unless `allow_cross_carrier` is False (by default it is False for low
    priority: bulk traffic waits for cheaper on-net capacity), SIMs on any other carrier, marked cross-carrier.
    `exclude_provider_ids` are never chosen: earlier attempts for this message, providers a blacklist names.
    `skip_locked_providers`: the caller's transaction already holds other reservations (a dispatch batch), so a
    provider whose row another transaction is reserving is passed over instead of waited for. Two batches each
    holding one provider and waiting for the other's would deadlock; a transaction holding no reservation may wait,
    since nothing waits for it in turn. (PostgreSQL; elsewhere writers take turns anyway.)
    Not audited: a routing decision per message; messaging's job records it.
    """
    now = now or timezone.now()
    excluded = set(exclude_provider_ids)
    if allow_cross_carrier is None:
        allow_cross_carrier = priority != MatchPriority.LOW
    attempts = _Attempts(
        now=now, counter=cap_counter(), windows=cap_windows(now), skip_locked_providers=skip_locked_providers
    )

    assignment = None
    if settings.PROVIDER_STICKY_SENDER and client_ref and recipient:
        assignment = _match_sticky(recipient_carrier, client_ref, recipient, excluded, attempts)
    if assignment is None:
        assignment = _match_pool([recipient_carrier], excluded, cross_carrier=False, attempts=attempts)
    if assignment is None and allow_cross_carrier:
        others = [carrier for carrier in Carrier.values if carrier != recipient_carrier]
        assignment = _match_pool(others, excluded, cross_carrier=True, attempts=attempts)
    attempts.roll_back_refused()
    if attempts.capped:
        capped = attempts.capped
        transaction.on_commit(lambda: _remember_capped(capped))
    return assignment


def _match_sticky(
    carrier: str, client_ref: str, recipient: str, excluded: set[int], attempts: _Attempts
) -> Assignment | None:
    candidates = sims_of_sticky_sender(
        client_ref=client_ref,
        recipient=recipient,
        carrier=carrier,
        now=attempts.now,
        remembered_after=attempts.now - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS),
        exclude_provider_ids=excluded,
    )
    for candidate in candidates:  # the same number first, then the provider's other SIMs
        if _reserve(candidate, attempts):
            return _assignment(candidate, cross_carrier=False, sticky=True, now=attempts.now)
    return None


def _match_pool(
    carriers: list[str], excluded: set[int], *, cross_carrier: bool, attempts: _Attempts
) -> Assignment | None:
    tried: set[int] = set()
    for _ in range(MATCH_ROUNDS):
        attempts.roll_back_refused()
        pool = sims_for_matching(
            carriers=carriers,
            now=attempts.now,
            limit=settings.PROVIDER_MATCH_POOL_SIZE,
            exclude_provider_ids=excluded,
            exclude_sim_ids=tried,
        )
        if not pool:
            return None
        for candidate in _weighted_order(pool, now=attempts.now):
            if _reserve(candidate, attempts):
                return _assignment(candidate, cross_carrier=cross_carrier, sticky=False, now=attempts.now)
            tried.add(candidate.id)
    return None


def _reserve(candidate: Candidate, attempts: _Attempts) -> bool:
    now = attempts.now
    caps = sim_caps(
        created_at=candidate.created_at, hourly_cap=candidate.hourly_cap, daily_cap=candidate.daily_cap, now=now
    )
    quality = provider_quality(
        reputation=candidate.provider_reputation,
        delivered=candidate.provider_jobs_delivered,
        failed=candidate.provider_jobs_failed,
    )
    stride = timedelta(seconds=3600 / settings.PROVIDER_SIM_HOURLY_CAP / quality)
    turn = max(now, candidate.next_turn_at) + stride
    if attempts.database.vendor == "postgresql":
        return _reserve_in_one_statement(candidate, caps=caps, turn=turn, attempts=attempts)
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
_PROVIDER_SKIP_LOCKED = "(SELECT id FROM providers_provider WHERE id = %(provider_id)s FOR UPDATE SKIP LOCKED)"


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


def _reserve_in_one_statement(candidate: Candidate, *, caps: Caps, turn: datetime, attempts: _Attempts) -> bool:
    windows, counted_here = attempts.windows, isinstance(attempts.counter, DatabaseCapCounter)
    sql, params = reservation_statement(
        candidate,
        caps=caps,
        turn=turn,
        now=attempts.now,
        windows=windows,
        counted_here=counted_here,
        skip_locked=attempts.skip_locked_providers,
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
        # That was the last unit in this window: skip the SIM in queries, and queue it behind the window.
        with database.cursor() as cursor:
            cursor.execute(
                "UPDATE providers_sim SET capped_until = %s, next_turn_at = %s WHERE id = %s",
                [full_until, max(turn, full_until), candidate.id],
            )
    return True


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
                # That was the last unit in this window: skip the SIM in queries, and queue it behind the window.
                Sim.objects.filter(pk=candidate.id).update(capped_until=full_until, next_turn_at=max(turn, full_until))
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
    once). Not audited: the job's transition is the record.
    """
    Provider.objects.filter(pk=provider_id, jobs_in_flight__gt=0).update(jobs_in_flight=F("jobs_in_flight") - 1)
    # Room again: the provider's usable SIMs go back into matching (a no-op unless it was full).
    Sim.objects.filter(
        matchable_provider_filter(), provider_id=provider_id, matchable=False, active=True, ready=True
    ).update(matchable=True)
    if not sms_sent:
        Sim.objects.filter(pk=sim_id, capped_until__isnull=False).update(capped_until=None)
        cap_counter().release(sim_id=sim_id, windows=cap_windows(reserved_at))


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
