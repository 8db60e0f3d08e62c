"""Reads: the provider of a user, the hot matching query, SIM usage and uptime."""

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connection, connections, models, router
from django.db.models import Count, Prefetch
from django.utils import timezone

from apps.core import crypto
from apps.core.prepared import prepared_cursor, statements_prepared
from apps.providers.choices import Availability, ProviderStatus
from apps.providers.errors import ProviderNotRegistered, SimNotFound
from apps.providers.models import AvailabilityChange, Provider, Sim
from apps.providers.services.availability import stale_before
from apps.providers.services.caps import Usage, cap_counter, cap_windows
from apps.providers.trust import Route


def provider_for_user(user: Any) -> Provider:
    """The signed-in user's provider with its active SIMs, or `provider_not_registered`."""
    active_sims = Prefetch("sims", queryset=Sim.objects.filter(active=True).order_by("slot"), to_attr="active_sims")
    provider = Provider.objects.filter(user_id=user.pk).prefetch_related(active_sims).first()
    if provider is None:
        raise ProviderNotRegistered()
    return provider


def sim_of_provider(*, provider: Provider, sim_id: int) -> Sim:
    """One of the provider's active SIMs; another provider's SIM is as unknown to it as one that does not exist."""
    sim = Sim.objects.filter(pk=sim_id, provider=provider, active=True).first()
    if sim is None:
        raise SimNotFound()
    return sim


def active_sim_ids_of_user(*, user: Any, sim_ids: Iterable[int]) -> set[int]:
    """Which of `sim_ids` are active SIMs of the signed-in provider."""
    return set(Sim.objects.filter(provider__user=user, active=True, pk__in=set(sim_ids)).values_list("pk", flat=True))


class Candidate(NamedTuple):
    """A SIM that can take a job now, with what the pick and the reservation need of it and of its provider."""

    id: int
    provider_id: int
    carrier: str
    next_turn_at: datetime
    created_at: datetime
    hourly_cap: int | None
    daily_cap: int | None
    provider_reputation: int
    provider_jobs_delivered: int
    provider_jobs_failed: int
    provider_jobs_in_flight: int
    provider_last_heartbeat_at: datetime
    provider_score: int | None
    provider_trusted: bool
    provider_trust_level: int
    cooldown_level: int
    last_block_at: datetime | None


# The hot query is written in SQL rather than built with the ORM: building and compiling the queryset cost about
# three times what PostgreSQL takes to plan and run it (see benchmarks/RESULTS.md). It is plain SQL that SQLite
# runs too. The columns are Candidate's fields, in order.
# The SIM's number is not among them: it is encrypted, and matching needs only its carrier.
_CANDIDATE_COLUMNS = """sim.id, sim.provider_id, sim.carrier, sim.next_turn_at, sim.created_at,
    sim.hourly_cap, sim.daily_cap, provider.reputation, provider.jobs_delivered, provider.jobs_failed,
    provider.jobs_in_flight, provider.last_heartbeat_at, provider.score, provider.trusted, provider.trust_level,
    sim.cooldown_level, sim.last_block_at"""
_DATETIME_INDEXES = tuple(
    Candidate._fields.index(name)
    for name in ("next_turn_at", "created_at", "provider_last_heartbeat_at", "last_block_at")
)


def _eligible(
    *, now: datetime, excluded_providers: list[int], excluded_sims: list[int], route: Route | None = None
) -> tuple[str, list[Any]]:
    """The WHERE clause (after the carrier) shared by the matching queries: `matchable` mirrored from the state in
    `Sim.matchable`'s docstring, checked again on the provider (a stale flag must never let an ineligible provider
    through), plus what changes too often to be mirrored (caps reached, cool-downs, heartbeat age, load), and the
    trust the message's route asks for."""
    adapt = connection.ops.adapt_datetimefield_value
    sql = (
        "sim.matchable AND (sim.capped_until IS NULL OR sim.capped_until <= %s)"
        " AND (sim.cooldown_until IS NULL OR sim.cooldown_until <= %s)"
        " AND provider.status = %s AND provider.availability = %s AND provider.reputation >= %s"
        " AND provider.unresponsive_since IS NULL"
        " AND provider.jobs_in_flight < %s AND provider.last_heartbeat_at >= %s"
    )
    params: list[Any] = [
        adapt(now),
        adapt(now),
        ProviderStatus.ACTIVE.value,
        Availability.ONLINE.value,
        settings.PROVIDER_MIN_REPUTATION,
        settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
        adapt(stale_before(now)),
    ]
    if settings.PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS:
        sql += " AND (sim.last_assigned_at IS NULL OR sim.last_assigned_at <= %s)"
        params.append(adapt(now - timedelta(seconds=settings.PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS)))
    if route is not None and route.trusted_only:
        sql += " AND provider.trusted"
    if route is not None and route.min_trust_level and not route.trusted_only:
        sql += " AND (provider.trusted OR provider.trust_level >= %s)"  # the trusted pool carries codes too
        params.append(route.min_trust_level)
    if excluded_providers:
        sql += f" AND sim.provider_id NOT IN ({', '.join(['%s'] * len(excluded_providers))})"
        params += excluded_providers
    if excluded_sims:
        sql += f" AND sim.id NOT IN ({', '.join(['%s'] * len(excluded_sims))})"
        params += excluded_sims
    return sql, params


def sims_for_matching_query(
    *,
    carriers: Sequence[str],
    now: datetime,
    limit: int,
    exclude_provider_ids: Iterable[int] = (),
    exclude_sim_ids: Iterable[int] = (),
    route: Route | None = None,
) -> tuple[str, list[Any]]:
    """SQL and parameters of the hot query (see `sims_for_matching`); the benchmark EXPLAINs it."""
    excluded_providers, excluded_sims = list(exclude_provider_ids), list(exclude_sim_ids)
    walks, params = [], []
    for carrier in carriers:
        where, where_params = _eligible(
            now=now, excluded_providers=excluded_providers, excluded_sims=excluded_sims, route=route
        )
        walks.append(
            f"SELECT {_CANDIDATE_COLUMNS} FROM providers_sim sim"  # noqa: S608 - constant SQL and placeholders only
            " JOIN providers_provider provider ON provider.id = sim.provider_id"
            f" WHERE sim.carrier = %s AND {where} ORDER BY sim.next_turn_at LIMIT %s"
        )
        params += [carrier, *where_params, limit]
    if len(walks) == 1:
        return walks[0], params
    # One index walk per carrier, each ordered by turn; merged, the earliest turns overall.
    merged = " UNION ALL ".join(f"SELECT * FROM ({walk}) AS walk_{index}" for index, walk in enumerate(walks))  # noqa: S608 - constant SQL and placeholders only
    return f"{merged} ORDER BY next_turn_at LIMIT %s", [*params, limit]


def sims_for_matching(
    *,
    carriers: Sequence[str],
    now: datetime,
    limit: int,
    exclude_provider_ids: Iterable[int] = (),
    exclude_sim_ids: Iterable[int] = (),
    route: Route | None = None,
) -> list[Candidate]:
    """The hot query: up to `limit` SIMs on any of `carriers` that can take a job now, earliest fair-share turn
    first; with a `route`, only SIMs of providers trusted as it asks.

    Each carrier's part walks the partial index `sim_match_idx` (carrier, next_turn_at WHERE matchable) and joins
    each SIM's provider by primary key, so it reads only a few rows however many providers there are. The provider
    conditions that `matchable` mirrors are checked again, so a stale flag can never let an ineligible provider
    through; the heartbeat and load conditions change too often to be mirrored.
    """
    sql, params = sims_for_matching_query(
        carriers=carriers,
        now=now,
        limit=limit,
        exclude_provider_ids=exclude_provider_ids,
        exclude_sim_ids=exclude_sim_ids,
        route=route,
    )
    return _candidates(sql, params)


def sims_of_sticky_senders(
    *, lookups: Sequence[tuple[str, str, str]], now: datetime, remembered_after: datetime
) -> dict[tuple[str, str], list[Candidate]]:
    """For each (client_ref, recipient, carrier) of `lookups`: the SIMs on `carrier` that can take a job now of the
    provider who last delivered to `recipient` for `client_ref` (if remembered since `remembered_after`) — the very
    SIM that delivered first, then the provider's others by turn — keyed by (client_ref, recipient). One query for a
    whole dispatch batch: the sticky sender is looked up for every dispatched message. Exclusions are the caller's
    to apply (they differ per message)."""
    if not lookups:
        return {}
    where, params = _eligible(now=now, excluded_providers=[], excluded_sims=[])
    values = ", ".join(["(%s, %s, %s)"] * len(lookups))
    sql = (
        f"WITH lookup (client_ref, recipient, carrier) AS (VALUES {values})"  # noqa: S608 - constant SQL and placeholders only
        f" SELECT {_CANDIDATE_COLUMNS}, sticky.client_ref, sticky.recipient FROM lookup"
        " JOIN providers_stickysender sticky"
        " ON sticky.client_ref = lookup.client_ref AND sticky.recipient = lookup.recipient"
        " JOIN providers_sim sim ON sim.provider_id = sticky.provider_id AND sim.carrier = lookup.carrier"
        " JOIN providers_provider provider ON provider.id = sim.provider_id"
        f" WHERE sticky.updated_at >= %s AND {where}"
        " ORDER BY sticky.client_ref, sticky.recipient, CASE WHEN sim.id = sticky.sim_id THEN 0 ELSE 1 END,"
        " sim.next_turn_at"
    )
    adapt = connection.ops.adapt_datetimefield_value
    flat = [value for lookup in lookups for value in lookup]
    found: dict[tuple[str, str], list[Candidate]] = {}
    for candidate, client_ref, recipient in _as_candidates(
        sql, [*flat, adapt(remembered_after), *params], extra_columns=2
    ):
        found.setdefault((client_ref, recipient), []).append(candidate)
    return found


def _candidates(sql: str, params: list[Any]) -> list[Candidate]:
    return _as_candidates(sql, params, extra_columns=0)


def _as_candidates(sql: str, params: list[Any], *, extra_columns: int) -> list[Any]:
    """Run a candidates query: Candidates, or with `extra_columns` (the last ones of each row) (Candidate, *extra)."""
    database = connections[router.db_for_read(Sim)]  # where the ORM would have read (the primary in a transaction)
    with database.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    width = len(Candidate._fields)
    convert = None if database.vendor == "postgresql" else database.ops.convert_datetimefield_value
    results = []
    for row in rows:
        values = list(row[:width])
        if convert:
            # Other databases hand raw queries' datetimes back as text; the ORM's converter parses them.
            for index in _DATETIME_INDEXES:
                values[index] = convert(values[index], None, database)
        candidate = Candidate._make(values)
        results.append((candidate, *row[width:]) if extra_columns else candidate)
    return results


def sim_usage(sims: list[Sim], *, now: datetime | None = None) -> dict[int, Usage]:
    """Messages each SIM has been given in the current local hour and day (one Redis MGET or one query)."""
    return cap_counter().usage(sim_ids=[sim.pk for sim in sims], windows=cap_windows(now or timezone.now()))


def provider_uptime(*, provider: Provider, since: datetime, until: datetime | None = None) -> float:
    """Share of the time between `since` and `until` (default now) that the provider was online, from 0 to 1."""
    until = until or timezone.now()
    if until <= since:
        return 0.0
    history = AvailabilityChange.objects.filter(provider=provider)
    before = history.filter(created_at__lte=since).order_by("-created_at", "-id").first()
    # Before its first recorded change a provider was offline (that is how every provider starts).
    state = before.availability if before else Availability.OFFLINE
    cursor, online = since, timedelta(0)
    changes = history.filter(created_at__gt=since, created_at__lt=until).order_by("created_at", "id")
    for change in changes.only("availability", "created_at"):
        if state == Availability.ONLINE:
            online += change.created_at - cursor
        state, cursor = change.availability, change.created_at
    if state == Availability.ONLINE:
        online += until - cursor
    return online / (until - since)


def provider_ids_holding_number(e164: str) -> set[int]:
    """Providers with an active SIM on this number: never given a message to it (a code sent to verify a SIM must
    not reach the very provider claiming it)."""
    return set(Sim.objects.filter(msisdn=e164, active=True).values_list("provider_id", flat=True))


def provider_ids_holding_numbers(numbers: Iterable[str]) -> dict[str, set[int]]:
    """`provider_ids_holding_number` for many numbers in one query: number → providers."""
    by_number = {number: crypto.blind_index(number) for number in set(numbers) if number}
    holders = provider_ids_holding_hashes(by_number.values())
    return {number: holders[hashed] for number, hashed in by_number.items() if hashed in holders}


# The dispatcher's batches ask by the recipients' keyed hashes, which their messages carry (`Message.to_hash`, the
# same blind index as `Sim.msisdn_hash`): no number to hash again, none of the SIMs' numbers decrypted, and on
# PostgreSQL one constant prepared text instead of a query the ORM built (and planned) for every batch.
_HOLDERS_SQL = "SELECT msisdn_hash, provider_id FROM providers_sim WHERE active AND msisdn_hash = ANY(%s)"


def provider_ids_holding_hashes(hashes: Iterable[str]) -> dict[str, set[int]]:
    """Providers with an active SIM on each number, by the numbers' keyed hashes (`apps.core.crypto.blind_index`):
    hash → providers. One query (the dispatcher's batches)."""
    wanted = sorted({hashed for hashed in hashes if hashed})
    if not wanted:
        return {}
    using = router.db_for_read(Sim)  # where the ORM would have read (the primary in a transaction)
    if statements_prepared(using):
        with prepared_cursor(using) as cursor:
            cursor.execute(_HOLDERS_SQL, [wanted])
            rows = cursor.fetchall()
    else:
        rows = (
            Sim.objects.using(using)
            .filter(msisdn_hash__in=wanted, active=True)
            .values_list("msisdn_hash", "provider_id")
        )
    holders: dict[str, set[int]] = {}
    for hashed, provider_id in rows:
        holders.setdefault(hashed, set()).add(provider_id)
    return holders


def sims_online_by_carrier() -> dict[str, int]:
    """How many usable SIMs of active, online providers each carrier has now: the network's sending capacity, in
    SIMs (each takes up to PROVIDER_MAX_JOBS_IN_FLIGHT jobs at a time). One grouped query; admission control reads it
    every few seconds, not per request."""
    rows = (
        Sim.objects.filter(
            active=True,
            ready=True,
            provider__status=ProviderStatus.ACTIVE,
            provider__availability=Availability.ONLINE,
        )
        .values_list("carrier")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


def online_capacity_by_carrier(*, now: datetime | None = None) -> dict[str, int]:
    """Segments an hour the SIMs that can take work now could send, per carrier: the hourly caps of matchable SIMs
    not capped at the moment, of active providers online with a fresh heartbeat (the supply dynamic pricing weighs
    against demand). One grouped query."""
    from django.db.models import Count, Q, Sum

    now = now or timezone.now()
    rows = (
        Sim.objects.filter(
            Q(capped_until__isnull=True) | Q(capped_until__lte=now),
            Q(cooldown_until__isnull=True) | Q(cooldown_until__lte=now),
            matchable=True,
            provider__status=ProviderStatus.ACTIVE,
            provider__availability=Availability.ONLINE,
            provider__last_heartbeat_at__gte=stale_before(now),
        )
        .values("carrier")
        .annotate(
            sims=Count("pk"), explicit=Sum("hourly_cap"), defaulted=Count("pk", filter=Q(hourly_cap__isnull=True))
        )
    )
    return {
        row["carrier"]: (row["explicit"] or 0) + row["defaulted"] * settings.PROVIDER_SIM_HOURLY_CAP for row in rows
    }


def providers_online_by_carrier_and_province() -> list[dict[str, Any]]:
    """Active providers online now, per carrier of their active SIMs and per province: `{carrier, province,
    providers, sims}` rows from one grouped query (a provider with SIMs on two carriers counts on both)."""
    return list(
        Sim.objects.filter(
            active=True, provider__status=ProviderStatus.ACTIVE, provider__availability=Availability.ONLINE
        )
        .values("carrier", province=models.F("provider__province"))
        .annotate(providers=Count("provider_id", distinct=True), sims=Count("id"))
        .order_by("carrier", "province")
    )


def providers_by_ids(ids: Iterable[int]) -> dict[int, Provider]:
    """Providers by id with their user (names for the back office's tables), in one query."""
    return Provider.objects.select_related("user").in_bulk(list(ids))
