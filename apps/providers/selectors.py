"""Reads: the provider of a user, the hot matching query, SIM usage and uptime."""

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from apps.providers.choices import Availability
from apps.providers.errors import ProviderNotRegistered, SimNotFound
from apps.providers.models import AvailabilityChange, Provider, Sim
from apps.providers.services.availability import matchable_provider_filter, stale_before
from apps.providers.services.caps import Usage, cap_counter, cap_windows

# What matching needs of each candidate, read in the one query.
CANDIDATE_FIELDS = (
    "id",
    "provider_id",
    "msisdn",
    "carrier",
    "next_turn_at",
    "created_at",
    "hourly_cap",
    "daily_cap",
    "provider__reputation",
    "provider__jobs_delivered",
    "provider__jobs_failed",
    "provider__jobs_in_flight",
    "provider__last_heartbeat_at",
)


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


def sims_for_matching(
    *,
    carrier: str,
    now: datetime,
    exclude_provider_ids: Iterable[int] = (),
    exclude_sim_ids: Iterable[int] = (),
    provider_id: int | None = None,
) -> QuerySet:
    """The hot query: SIMs on `carrier` that can take a job now, earliest fair-share turn first.

    It walks the partial index `sim_match_idx` (carrier, next_turn_at WHERE matchable) and joins each SIM's
    provider by primary key, so with a LIMIT it reads only a few rows however many providers there are. The
    provider conditions that `matchable` mirrors are checked again here, so a stale flag can never let an
    ineligible provider through; the heartbeat and load conditions change too often to be mirrored.
    """
    sims = Sim.objects.filter(
        Q(capped_until__isnull=True) | Q(capped_until__lte=now),
        matchable_provider_filter(),
        carrier=carrier,
        matchable=True,
        provider__last_heartbeat_at__gte=stale_before(now),
    )
    if provider_id is not None:
        sims = sims.filter(provider_id=provider_id)
    excluded_providers, excluded_sims = list(exclude_provider_ids), list(exclude_sim_ids)
    if excluded_providers:
        sims = sims.exclude(provider_id__in=excluded_providers)
    if excluded_sims:
        sims = sims.exclude(id__in=excluded_sims)
    return sims.order_by("next_turn_at").values_list(*CANDIDATE_FIELDS, named=True)


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
