"""Availability: heartbeats, the offline sweep, the history uptime is computed from, and the `matchable` flag.

A provider's effective availability is what matching sees. The provider chooses online / busy / offline; the sweep
marks providers offline after PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS missed heartbeats, and their next heartbeat
restores what they chose. Each change is one `AvailabilityChange` row.

`Sim.matchable` mirrors "SIM active and ready, provider active, online, above the minimum reputation, responsive (no
offer ended unacknowledged since it was last heard from: `responsiveness`) and under its in-flight limit" so the hot
matching query scans only SIMs that can take work, even when most providers are busy. Every service
that changes one of those inputs keeps it in step; the sweep also repairs any drift (for example after
PROVIDER_MIN_REPUTATION changes).
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.compiled import CompiledUpdate
from apps.core.counters import Count, counters_add
from apps.providers.choices import Availability, AvailabilityReason, ProviderStatus
from apps.providers.errors import DeviceNotRegistered
from apps.providers.models import AvailabilityChange, Device, Provider, Sim
from apps.providers.wakeup import wake_up

SWEEP_BATCH = 1000
SWEEP_ACTOR = "task:providers.sweep_offline"


def stale_before(now: datetime) -> datetime:
    """Heartbeats older than this are missed: the provider is offline for matching and for the sweep."""
    missed = settings.PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS
    return now - timedelta(seconds=settings.PROVIDER_HEARTBEAT_INTERVAL * missed)


def provider_is_matchable(provider: Provider) -> bool:
    return (
        provider.status == ProviderStatus.ACTIVE
        and provider.availability == Availability.ONLINE
        and provider.reputation >= settings.PROVIDER_MIN_REPUTATION
        and provider.unresponsive_since is None
        and provider.jobs_in_flight < settings.PROVIDER_MAX_JOBS_IN_FLIGHT
    )


def matchable_provider_filter(prefix: str = "provider__") -> Q:
    """The provider half of `matchable`, as a filter on SIMs (prefix "provider__") or on providers (prefix "")."""
    return Q(
        **{
            f"{prefix}status": ProviderStatus.ACTIVE,
            f"{prefix}availability": Availability.ONLINE,
            f"{prefix}reputation__gte": settings.PROVIDER_MIN_REPUTATION,
            f"{prefix}unresponsive_since__isnull": True,
            f"{prefix}jobs_in_flight__lt": settings.PROVIDER_MAX_JOBS_IN_FLIGHT,
        }
    )


def sync_matchable(provider: Provider) -> None:
    """Make the provider's SIMs' `matchable` flags agree with the provider's current state (call in a transaction)."""
    sims = Sim.objects.filter(provider_id=provider.pk)
    if provider_is_matchable(provider):
        sims.filter(active=True, ready=True, matchable=False).update(matchable=True)
        sims.filter(Q(active=False) | Q(ready=False), matchable=True).update(matchable=False)
    else:
        sims.filter(matchable=True).update(matchable=False)


def sims_resync_matchable() -> int:
    """Repair `matchable` wherever it disagrees with the state it mirrors; returns how many SIMs changed.

    SIMs a matcher has locked right now are skipped (on PostgreSQL), so this never waits on, or deadlocks with,
    a dispatch; the next sweep sees them.
    """
    should = Q(active=True, ready=True) & matchable_provider_filter()
    sims = Sim.objects.all()
    if connection.features.has_select_for_update_skip_locked:
        sims = sims.select_for_update(skip_locked=True, of=("self",))
    with transaction.atomic():
        wrongly_on = list(sims.filter(matchable=True).exclude(should).values_list("id", flat=True))
        wrongly_off = list(sims.filter(should, matchable=False).values_list("id", flat=True))
        Sim.objects.filter(id__in=wrongly_on).update(matchable=False)
        Sim.objects.filter(id__in=wrongly_off, active=True, ready=True).update(matchable=True)
    return len(wrongly_on) + len(wrongly_off)


def change_availability(provider: Provider, availability: str, *, reason: str, now: datetime) -> bool:
    """Set the effective availability and record the change; the caller saves the provider and syncs SIMs."""
    if provider.availability == availability:
        return False
    AvailabilityChange.objects.create(
        provider=provider, previous=provider.availability, availability=availability, reason=reason, created_at=now
    )
    provider.availability = availability
    provider.availability_changed_at = now
    return True


@dataclass(frozen=True)
class HeartbeatReply:
    next_interval: int
    jobs_waiting: int
    availability: str


@transaction.atomic
def provider_heartbeat(
    *,
    provider: Provider,
    battery: int | None = None,
    charging: bool | None = None,
    network: str = "",
    signal: int | None = None,
    sims_ready: list[int] | None = None,
    app_version: str = "",
    device_id: int | None = None,
    now: datetime | None = None,
) -> HeartbeatReply:
    """Record a heartbeat from the provider's phone (the given device, else the one registered last).

    Not audited: a heartbeat a minute per phone would drown the audit log, and it changes nothing a person decided;
    an availability it restores is kept in the availability history. `sims_ready` lists the slots whose SIM is in
    the phone and usable; SIMs in other slots get no work until a heartbeat lists them again.
    """
    now = now or timezone.now()
    devices = Device.objects.filter(provider_id=provider.pk)
    device = (devices.filter(pk=device_id) if device_id else devices.order_by("-updated_at", "-id")).first()
    if device is None:
        raise DeviceNotRegistered(details={"device": device_id} if device_id else None)
    device_changes = {"last_heartbeat_at": now, "battery": battery, "charging": charging, "signal": signal}
    if network:
        device_changes["network_type"] = network
    if app_version:
        device_changes["app_version"] = app_version
    Device.objects.filter(pk=device.pk).update(**device_changes)

    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    provider.last_heartbeat_at = now
    fields = ["last_heartbeat_at"]
    if provider.unresponsive_since is not None:
        # Heard from: offered work again at once (see `responsiveness`).
        provider.unresponsive_since = None
        fields.append("unresponsive_since")
    if (
        provider.availability == Availability.OFFLINE
        and provider.chosen_availability != Availability.OFFLINE
        and provider.status in (ProviderStatus.ACTIVE, ProviderStatus.PENDING)
        and change_availability(provider, provider.chosen_availability, reason=AvailabilityReason.HEARTBEAT, now=now)
    ):
        fields += ["availability", "availability_changed_at"]
    provider.save(update_fields=fields)
    if sims_ready is not None:
        sims = Sim.objects.filter(provider_id=provider.pk, active=True)
        sims.filter(slot__in=sims_ready, ready=False).update(ready=True)
        sims.exclude(slot__in=sims_ready).filter(ready=True).update(ready=False, matchable=False)
    sync_matchable(provider)
    return HeartbeatReply(
        next_interval=settings.PROVIDER_HEARTBEAT_INTERVAL,
        jobs_waiting=provider.jobs_in_flight,
        availability=provider.availability,
    )


def provider_seen(*, user_id: int, now: datetime | None = None) -> bool:
    """A request from a provider's phone (a report, an acknowledgement, a pull) shows it is alive: refresh its
    heartbeat time, so a busy phone needs no separate heartbeat. Returns whether it wrote.

    Cheap enough for every request: a mark in the shared cache (`provider_seen_mark`, a counter living
    PROVIDER_SEEN_REFRESH_SECONDS from its first count) lets through one request per phone per window, and that one
    makes a conditional UPDATE with the same time bound (so at most one write per window, whichever web process gets
    it). Only an online or busy provider is refreshed: one the sweep marked offline comes back with a full heartbeat,
    which restores what it chose and its SIMs. Not audited, as heartbeats are not."""
    mark = provider_seen_mark(user_id=user_id)
    if mark is None:
        return False
    (marks,) = counters_add([mark])
    return provider_seen_counted(user_id=user_id, marks=marks, now=now)


def provider_seen_mark(*, user_id: int) -> Count | None:
    """The count that marks the phone seen in this window (None: refreshing is off), for a caller that counts it in
    a round trip it makes anyway (the phone's request, with its rate limit); then `provider_seen_counted`."""
    refresh = settings.PROVIDER_SEEN_REFRESH_SECONDS
    return Count(key=f"provider-seen:{user_id}", amount=1, timeout=refresh) if refresh > 0 else None


def provider_seen_counted(*, user_id: int, marks: int, now: datetime | None = None) -> bool:
    """`provider_seen` once its mark was counted (`marks`: the mark's count in its window): only the window's first
    count writes."""
    if marks != 1:
        return False
    now = now or timezone.now()
    fresh_since = now - timedelta(seconds=settings.PROVIDER_SEEN_REFRESH_SECONDS)
    return _SEEN.run({"last_heartbeat_at": now}, user_id, fresh_since) == 1


# Built once per process on PostgreSQL (apps.core.compiled): a phone's request refreshes its heartbeat with it.
_SEEN = CompiledUpdate(
    lambda user_id, fresh_since: Provider.objects.filter(
        user_id=user_id, availability__in=(Availability.ONLINE, Availability.BUSY)
    ).exclude(Q(last_heartbeat_at__gte=fresh_since))
)


def providers_sweep_offline(*, now: datetime | None = None) -> list[int]:
    """Mark offline every online or busy provider whose last heartbeat is too old; returns their ids.

    Works in batches, each its own transaction. On PostgreSQL rows a heartbeat is updating right now are skipped
    (SKIP LOCKED): that heartbeat makes them fresh anyway. Providers marked offline are handed to the wake-up hook
    after commit. One audit entry per batch names them (one per provider would flood the log in an outage); the
    availability history has a row for each.
    """
    now = now or timezone.now()
    marked: list[int] = []
    while True:
        batch = _sweep_batch(now)
        marked += batch
        if len(batch) < SWEEP_BATCH:
            return marked


@transaction.atomic
def _sweep_batch(now: datetime) -> list[int]:
    providers = Provider.objects.all()
    if connection.features.has_select_for_update_skip_locked:
        providers = providers.select_for_update(skip_locked=True)
    stale = list(
        providers.exclude(availability=Availability.OFFLINE)
        .filter(Q(last_heartbeat_at__lt=stale_before(now)) | Q(last_heartbeat_at__isnull=True))
        .order_by("last_heartbeat_at")
        .values_list("id", "availability")[:SWEEP_BATCH]
    )
    if not stale:
        return []
    ids = [provider_id for provider_id, _ in stale]
    AvailabilityChange.objects.bulk_create(
        AvailabilityChange(
            provider_id=provider_id,
            previous=previous,
            availability=Availability.OFFLINE,
            reason=AvailabilityReason.MISSED_HEARTBEATS,
            created_at=now,
        )
        for provider_id, previous in stale
    )
    Provider.objects.filter(pk__in=ids).update(availability=Availability.OFFLINE, availability_changed_at=now)
    Sim.objects.filter(provider_id__in=ids, matchable=True).update(matchable=False)
    audit_record(
        action="providers.marked_offline",
        target_type="providers.provider",
        after={"count": len(ids), "provider_ids": ids},
        system_actor=SWEEP_ACTOR,
    )
    transaction.on_commit(lambda: wake_up(ids))
    return ids
