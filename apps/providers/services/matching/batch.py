"""The batch algorithm: which SIM each message of a dispatch batch gets.

Order per request: the sticky sender (the provider who last delivered to that recipient for that client, if
enabled and eligible); then on-net SIMs (`sims_for_matching`: the recipient's carrier, an active provider online
with a fresh heartbeat, above the minimum reputation, under its in-flight limit, caps not known to be reached);
then, where allowed, SIMs on any other carrier, marked cross-carrier. The round trips are shared by the batch: one
sticky-sender query, one pool query per carrier set, and the reservations of a round together (`reservation`).
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.providers.choices import Carrier, MatchPriority
from apps.providers.selectors import Candidate, sims_for_matching, sims_of_sticky_senders
from apps.providers.services.caps import cap_counter, cap_windows
from apps.providers.services.matching.reservation import Outcome, Reserver, capped_remember
from apps.providers.services.matching.scoring import candidate_weight, weighted_order
from apps.providers.trust import OPEN, Route

# A request that loses every race for its first pool reads a pool of its own this many times before giving up.
MATCH_ROUNDS = 3


@dataclass(frozen=True)
class Assignment:
    """A reserved SIM for one message. The caller keeps it (at least provider, SIM and `reserved_at`) to release
    the capacity through `capacity_release` when the job ends. The SIM's number is not part of it: it is encrypted
    and nothing on the dispatch path needs it."""

    provider_id: int
    sim_id: int
    carrier: str
    cross_carrier: bool
    sticky: bool
    reserved_at: datetime


@dataclass(frozen=True)
class MatchRequest:
    """One message to match.

    `exclude_provider_ids` are never chosen (earlier attempts for this message, providers a blacklist names).
    `client_ref` and `recipient` find the sticky sender. `allow_cross_carrier`: None means "unless low priority"
    (bulk traffic waits for cheaper on-net capacity). `route`: the trust the message asks of a phone
    (`apps.providers.trust`).
    """

    recipient_carrier: str
    exclude_provider_ids: frozenset[int] = frozenset()
    priority: str = MatchPriority.NORMAL
    client_ref: str = ""
    recipient: str = ""
    allow_cross_carrier: bool | None = None
    route: Route = OPEN

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


@transaction.atomic(savepoint=False)
def providers_match_batch(
    requests: list[MatchRequest], *, now: datetime | None = None, skip_locked_providers: bool = False
) -> BatchMatch:
    """Match and reserve a SIM for each request, or None where there is no capacity (the caller keeps the message
    waiting and tries again later; it is not failed). Every rule applies per request: exclusions, sticky sender,
    on-net first, cross-carrier only where allowed.

    How: each round picks one candidate per unmatched request (a weighted draw among the earliest turns of what the
    request may have; never two requests on one provider in a round) and reserves them together; a request whose
    candidate was refused (a race lost, a cap reached) draws again in the next round. A reserved SIM's turn moves
    back in the batch's own copy of the pool too, so later requests in the batch spread as consecutive single
    matches would.

    Locks: a transaction holding no reservation may wait for one provider's row (waiting for one lock while holding
    none cannot deadlock); a round of several reservations, or any round once the batch holds one, passes over
    providers another transaction holds, and says so in `contended`. `skip_locked_providers`: the caller's
    transaction already holds other reservations, so the batch never waits. Runs in the caller's transaction,
    without a savepoint of its own: a refused round is undone to the savepoint sent with it.
    Not audited: a routing decision per message; messaging's job records it.
    """
    batch = _Batch(requests, now=now or timezone.now(), skip_locked_providers=skip_locked_providers)
    if settings.PROVIDER_STICKY_SENDER:
        batch.match_sticky()
    batch.match_pools(cross_carrier=False)
    batch.match_pools(cross_carrier=True)
    batch.reserver.settle()
    if batch.capped:
        capped = batch.capped
        transaction.on_commit(lambda: capped_remember(capped))
    return BatchMatch(assignments=batch.assignments, contended=batch.contended)


@dataclass
class _Pool:
    """SIMs (ids into `_Batch.known`) a query returned for some carriers; `complete` when it returned all there were."""

    sim_ids: list[int]
    complete: bool


class _Batch:
    """One `providers_match_batch`: the requests, what each has been refused, and the batch's copy of the pools."""

    def __init__(self, requests: list[MatchRequest], *, now: datetime, skip_locked_providers: bool) -> None:
        self.requests = requests
        self.now = now
        self.skip_locked_providers = skip_locked_providers
        self.reserver = Reserver(now=now, counter=cap_counter(), windows=cap_windows(now))
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
        # SIMs found at a cap (sim id -> until): marked after commit (see `capped_remember`).
        self.capped: dict[int, datetime] = {}
        # Each candidate's weight, by (SIM, its provider's jobs in flight): the only input of the weight that changes
        # within a batch is the load its own reservations add. A request's options are weighed again at every round
        # (33,000 weighings for 3,000 jobs in the dispatch benchmark, 5 % of the dispatcher's profiled time).
        self.weights: dict[tuple[int, int], float] = {}

    def unmatched(self) -> list[int]:
        return [index for index, assignment in enumerate(self.assignments) if assignment is None]

    def usable(self, index: int, sim_ids: Iterable[int], busy: set[int]) -> list[Candidate]:
        # `busy`: providers already picked in this round, as if their turns had moved back (they will have).
        excluded = self.requests[index].exclude_provider_ids
        route = self.requests[index].route
        candidates = [self.known[sim_id] for sim_id in sim_ids if sim_id not in self.refused]
        return [
            c
            for c in candidates
            if c.provider_id not in excluded
            and c.provider_id not in self.full_providers
            and c.provider_id not in busy
            and route.admits(c)
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
            now=self.now,
            remembered_after=self.now - timedelta(days=settings.PROVIDER_STICKY_SENDER_DAYS),
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
        groups: dict[tuple[tuple[str, ...], Route], list[int]] = {}
        for index in self.unmatched():
            request = self.requests[index]
            if cross_carrier and not request.cross_carrier_allowed:
                continue
            carriers = (
                tuple(carrier for carrier in Carrier.values if carrier != request.recipient_carrier)
                if cross_carrier
                else (request.recipient_carrier,)
            )
            groups.setdefault((carriers, request.route), []).append(index)
        for (carriers, route), indexes in groups.items():
            # Providers every request of the group excludes are left out of the query; the others, per request.
            excluded = frozenset.intersection(*(self.requests[index].exclude_provider_ids for index in indexes))
            pool = self.fetch(
                carriers, limit=settings.PROVIDER_MATCH_POOL_SIZE + len(indexes), excluded=excluded, route=route
            )
            self.private_pools.clear()
            self.refreshes.clear()

            def options(
                index: int, busy: set[int], carriers: tuple[str, ...] = carriers, pool: _Pool = pool
            ) -> list[Candidate]:
                return self.pool_options(index, busy, carriers, pool)

            self.run_rounds(indexes, options, cross_carrier=cross_carrier)

    def fetch(
        self,
        carriers: Iterable[str],
        *,
        limit: int,
        excluded: Iterable[int],
        tried: Iterable[int] = (),
        route: Route = OPEN,
    ) -> _Pool:
        self.reserver.settle()
        found = sims_for_matching(
            carriers=list(carriers),
            now=self.now,
            limit=limit,
            exclude_provider_ids=excluded,
            exclude_sim_ids=tried,
            route=route if route.restricted else None,
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
                route=self.requests[index].route,
            )
            self.private_pools[index] = pool
            usable = self.usable(index, pool.sim_ids, busy)
        usable.sort(key=lambda candidate: candidate.next_turn_at)
        return weighted_order(usable[: settings.PROVIDER_MATCH_POOL_SIZE], now=self.now, weight=self.weight)

    def weight(self, candidate: Candidate) -> float:
        key = (candidate.id, candidate.provider_jobs_in_flight)
        found = self.weights.get(key)
        if found is None:
            found = self.weights[key] = candidate_weight(candidate, now=self.now)
        return found

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
            if not (self.holding or self.skip_locked_providers):
                # Holding nothing, the batch's first reservation may wait for a provider another transaction holds
                # (one row: waiting for one lock while holding none cannot deadlock), rather than pass it over.
                first = next(iter(picks))
                picks = {first: picks[first]}
            for index, outcome in self.reserve(picks).items():
                candidate = picks[index]
                if outcome.reserved:
                    self.assignments[index] = _assignment(
                        candidate, cross_carrier=cross_carrier, sticky=sticky, now=self.now
                    )
                    self.contended.discard(index)
                    self.reserved(candidate, outcome)
                elif not outcome.retry:
                    self.refused.add(candidate.id)
                    if outcome.capped_until:
                        self.capped[candidate.id] = outcome.capped_until
                    if outcome.passed_over:
                        self.contended.add(index)
            pending = [index for index in waiting if self.assignments[index] is None]

    def reserved(self, candidate: Candidate, outcome: Outcome) -> None:
        # The batch's copy follows what the reservation did: the SIM's turn moved, its provider has one more job.
        for sim_id, known in list(self.known.items()):
            if known.provider_id == candidate.provider_id:
                self.known[sim_id] = known._replace(provider_jobs_in_flight=known.provider_jobs_in_flight + 1)
        self.known[candidate.id] = self.known[candidate.id]._replace(next_turn_at=outcome.turn)
        if candidate.provider_jobs_in_flight + 1 >= settings.PROVIDER_MAX_JOBS_IN_FLIGHT:
            self.full_providers.add(candidate.provider_id)
        if outcome.full or settings.PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS:
            # Paced SIMs send once per batch: the next send must wait its minimum interval.
            self.refused.add(candidate.id)

    def reserve(self, picks: dict[int, Candidate]) -> dict[int, Outcome]:
        skip_locked = self.skip_locked_providers or self.holding or len(picks) > 1
        outcomes = self.reserver.reserve(picks, skip_locked=skip_locked)
        if any(outcome.reserved for outcome in outcomes.values()):
            self.holding = True
        return outcomes


def _assignment(candidate: Candidate, *, cross_carrier: bool, sticky: bool, now: datetime) -> Assignment:
    return Assignment(
        provider_id=candidate.provider_id,
        sim_id=candidate.id,
        carrier=candidate.carrier,
        cross_carrier=cross_carrier,
        sticky=sticky,
        reserved_at=now,
    )
