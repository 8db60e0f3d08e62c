"""Reserving a round of picks: one semantics, all or nothing per pick.

A pick (a candidate SIM, for one message) is reserved only if all three hold, and a refused pick changes nothing:
1. its provider's in-flight slot: the provider is active, online and under PROVIDER_MAX_JOBS_IN_FLIGHT;
2. its SIM's turn: the SIM is still matchable (the turn moves back; the slot that fills the provider takes the
   provider's SIMs out of the matching index until a release, so a busy network is not walked SIM by SIM);
3. its SIM's hour and day units: both under their caps (`CapCounter.reserve_many`).
Row locks are always taken provider, then SIM, then counter (then the provider's other SIMs, when the slot fills
it). A round's picks (distinct providers) are reserved together inside a savepoint: should the counters refuse one
(a cap reached), the round is undone to its savepoint (and units Redis gave are handed back), the refused pick is
marked capped and the others are tried again in the next round. The savepoints end with the caller's transaction:
matching opens no transaction of its own.

Why steps 1-2 have two implementations, and no more: on PostgreSQL they are one statement for the whole round
(`BATCH_RESERVE_SQL`, data-modifying CTEs, sent with its savepoint in the same round trip), because the round
trips, not the work, were what a match cost; SQLite (development and tests) has no data-modifying CTEs, so the
portable path runs the same conditional UPDATEs pick by pick (its writers take turns, so there is no lock to pass
over). Step 3 has one implementation per counter backend behind `CapCounter` (a Lua script in Redis, a conditional
upsert in the database; see `caps`), shared by both paths.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import connections, router, transaction
from django.db.models import Case, F, Value, When

from apps.providers.choices import Availability, ProviderStatus
from apps.providers.models import Provider, Sim
from apps.providers.selectors import Candidate
from apps.providers.services.caps import CapCounter, Windows, capped_until
from apps.providers.services.matching.scoring import Plan, reservation_plan

ATTEMPT_SAVEPOINT = "provider_match_attempt"


@dataclass(frozen=True)
class Outcome:
    """One pick's reservation: reserved (the SIM's new turn, and whether that was its last unit in the window), or
    refused (`passed_over`: its provider was held by another transaction; `capped_until`: its SIM was at a cap until
    then), or undone with its round and to be tried again (`retry`)."""

    reserved: bool
    turn: datetime | None = None
    full: bool = False
    passed_over: bool = False
    retry: bool = False
    capped_until: datetime | None = None


# The round's reservations, one row per pick (distinct providers), in one statement: the picked providers locked in
# id order (or those another transaction holds passed over), their slots, then their SIMs' turns only where the slot
# was taken, then the other SIMs of providers that are now full. UPDATE ... FROM an empty CTE changes nothing and
# locks nothing, so each part runs only where the one before it changed its row. Each row says whether its provider
# was locked, its slot taken and its SIM's turn moved.
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


class Reserver:
    """Reserves the rounds of one batch (see the module docstring) and returns each pick's `Outcome`.

    Its only state is its connection's savepoint on PostgreSQL: whether one is set, and whether the last round was
    refused and must be rolled back to it (`settle`) before anything else reads or waits for a lock.
    """

    def __init__(self, *, now: datetime, counter: CapCounter, windows: Windows) -> None:
        self.now = now
        self.counter = counter
        self.windows = windows
        # Asking the router marks this request or task as having written (reads then stay on the primary), as the
        # ORM does for its own writes.
        self.database = connections[router.db_for_write(Provider)]
        self.in_one_statement = self.database.vendor == "postgresql"
        self._savepoint_set = False
        self._rollback_pending = False

    def reserve(self, picks: dict[int, Candidate], *, skip_locked: bool) -> dict[int, Outcome]:
        """Reserve the picks (request index -> candidate, distinct providers). `skip_locked`: pass over providers
        another transaction holds instead of waiting for them (PostgreSQL)."""
        plans = {index: reservation_plan(candidate, now=self.now) for index, candidate in picks.items()}
        if self.in_one_statement:
            taken, outcomes = self._slots_in_one_statement(picks, plans, skip_locked=skip_locked)
            if taken is None:  # a slot was taken without its SIM: undo the round, try the others again
                self._rollback_pending = True
                return outcomes
        else:
            round_savepoint = transaction.savepoint()
            taken, outcomes = self._slots_step_by_step(picks, plans)
        outcomes |= self._count(picks, plans, taken)
        # Nothing taken: undone too, so that the locks of providers refused do not outlive the round (the next
        # round may wait for a lock; it must hold none).
        kept = bool(taken) and all(outcomes[index].reserved for index in taken)
        if self.in_one_statement:
            if kept:
                # Kept: the next round gets a savepoint of its own, so that undoing it does not undo this one.
                # Providers locked but refused stay locked until commit: harmless, since from here on the batch
                # passes over locked providers, so it waits for no one who could be waiting for them.
                self._savepoint_set = False
            else:
                self._rollback_pending = True
        elif kept:
            transaction.savepoint_commit(round_savepoint)
        else:
            transaction.savepoint_rollback(round_savepoint)
        return outcomes

    def settle(self) -> None:
        """Undo a refused round now (before another query reads what it changed or waits for a lock)."""
        if self._rollback_pending:
            with self.database.cursor() as cursor:
                cursor.execute(f"ROLLBACK TO SAVEPOINT {ATTEMPT_SAVEPOINT}")
            self._rollback_pending = False

    def _count(self, picks: dict[int, Candidate], plans: dict[int, Plan], taken: list[int]) -> dict[int, Outcome]:
        """Step 3 for the picks whose slot and turn were taken: each reserved, or all of them undone (`retry`) but
        the capped ones, in one counter call."""
        if not taken:
            return {}
        windows, counter = self.windows, self.counter
        reservations = dict(
            zip(
                taken,
                counter.reserve_many(sims=[(picks[index].id, plans[index].caps) for index in taken], windows=windows),
                strict=True,
            )
        )
        outcomes: dict[int, Outcome] = {}
        full: dict[int, tuple[datetime, datetime]] = {}
        for index, reservation in reservations.items():
            caps, turn = plans[index].caps, plans[index].turn
            until = capped_until(caps=caps, usage=reservation.usage, windows=windows) if reservation.usage else None
            if not reservation.reserved:
                outcomes[index] = Outcome(reserved=False, capped_until=until or windows.hour_ends_at)
                continue
            outcomes[index] = Outcome(reserved=True, turn=turn, full=bool(until))
            if until:
                full[picks[index].id] = (until, turn)
        if len(outcomes) == sum(outcome.reserved for outcome in outcomes.values()):
            if full:
                _mark_full(full)
            return outcomes
        # A cap refused one: the round is undone, and with it the units the others got (by the savepoint for the
        # database counters; Redis has to be told).
        given = [picks[index].id for index, outcome in outcomes.items() if outcome.reserved]
        if given and not counter.transactional:
            counter.release_many(sim_ids=given, windows=windows)
        return {
            index: outcome if not outcome.reserved else Outcome(reserved=False, retry=True)
            for index, outcome in outcomes.items()
        }

    def _slots_in_one_statement(
        self, picks: dict[int, Candidate], plans: dict[int, Plan], *, skip_locked: bool
    ) -> tuple[list[int] | None, dict[int, Outcome]]:
        """Steps 1-2 for the round in one statement, sent with the round's savepoint. Returns the picks taken and the
        refused ones' outcomes; None instead of the taken ones (which are then to be tried again) when a slot was
        taken without its SIM (the SIM left matching meanwhile), which only undoing the round gives back."""
        indexes = list(picks)
        sql, params = batch_reservation_statement(
            [(picks[index], plans[index].turn) for index in indexes], now=self.now, skip_locked=skip_locked
        )
        with self.database.cursor() as cursor:
            cursor.execute(self._statement_prefix() + sql, params)
            while cursor.description is None and cursor.nextset():  # the savepoint's result comes first
                pass
            rows = sorted(cursor.fetchall())
        self._savepoint_set, self._rollback_pending = True, False
        taken: list[int] = []
        outcomes: dict[int, Outcome] = {}
        for (_, locked, slot_taken, sim_taken), index in zip(rows, indexes, strict=True):
            if slot_taken and sim_taken:
                taken.append(index)
            else:
                outcomes[index] = Outcome(reserved=False, passed_over=skip_locked and not locked)
        if any(slot and not sim for _, _, slot, sim in rows):
            return None, outcomes | {index: Outcome(reserved=False, retry=True) for index in taken}
        return taken, outcomes

    def _statement_prefix(self) -> str:
        # Sent in the same round trip as the round's statement: setting or returning to the savepoint is free.
        if not self._savepoint_set:
            return f"SAVEPOINT {ATTEMPT_SAVEPOINT}; "
        if self._rollback_pending:
            return f"ROLLBACK TO SAVEPOINT {ATTEMPT_SAVEPOINT}; "
        return ""

    def _slots_step_by_step(
        self, picks: dict[int, Candidate], plans: dict[int, Plan]
    ) -> tuple[list[int], dict[int, Outcome]]:
        """Steps 1-2 as separate conditional UPDATEs, pick by pick, each in a savepoint of its own."""
        taken: list[int] = []
        outcomes: dict[int, Outcome] = {}
        max_jobs = settings.PROVIDER_MAX_JOBS_IN_FLIGHT
        for index, candidate in picks.items():
            with transaction.atomic():
                took_slot = Provider.objects.filter(
                    pk=candidate.provider_id,
                    status=ProviderStatus.ACTIVE,
                    availability=Availability.ONLINE,
                    jobs_in_flight__lt=max_jobs,
                ).update(jobs_in_flight=F("jobs_in_flight") + 1)
                took_turn = took_slot and Sim.objects.filter(pk=candidate.id, matchable=True).update(
                    next_turn_at=plans[index].turn, last_assigned_at=self.now
                )
                if not took_turn:
                    outcomes[index] = Outcome(reserved=False)
                    transaction.set_rollback(True)  # a slot without its SIM (it left matching) is given back
                    continue
                if candidate.provider_jobs_in_flight + 1 >= max_jobs:
                    # The provider is (very likely) full: out of the index until a release. Had a release come in
                    # meanwhile, the next release or sweep puts the SIMs back.
                    Sim.objects.filter(provider_id=candidate.provider_id, matchable=True).update(matchable=False)
                taken.append(index)
        return taken, outcomes


def _mark_full(sims: dict[int, tuple[datetime, datetime]]) -> None:
    """Those reservations took their SIMs' last unit in the window (sim id -> (until, turn)): skip the SIMs in
    queries, and queue each behind its window. One statement."""
    Sim.objects.filter(pk__in=sims).update(
        capped_until=Case(*[When(pk=sim_id, then=Value(until)) for sim_id, (until, _) in sims.items()]),
        next_turn_at=Case(*[When(pk=sim_id, then=Value(max(turn, until))) for sim_id, (until, turn) in sims.items()]),
    )


def capped_remember(capped: dict[int, datetime]) -> None:
    """Mark SIMs found at a cap (sim id -> until), after the batch's commit and one short statement per SIM, so a
    refused round never holds a SIM's row lock while the matcher goes on to lock other rows (no lock-order cycles
    between concurrent matchers)."""
    for sim_id, until in capped.items():
        Sim.objects.filter(pk=sim_id).update(capped_until=until)
