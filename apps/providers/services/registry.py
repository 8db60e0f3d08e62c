"""Registering providers and their SIMs and devices, their own settings, and staff decisions about them."""

import hashlib
from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.accounts.choices import DenyKind
from apps.accounts.phone import normalize_phone
from apps.accounts.services import deny_list_refuse
from apps.audit.services import audit_record
from apps.core.prepared import prepared_cursor
from apps.providers.carriers import carrier_from_mcc_mnc, carrier_from_phonenumbers
from apps.providers.choices import Availability, AvailabilityReason, Carrier, ProviderStatus
from apps.providers.errors import (
    CapAboveMaximum,
    DeviceRegisteredToAnotherProvider,
    ProviderAlreadyRegistered,
    ProviderNotActive,
    ProviderStatusConflict,
    SimAlreadyRegistered,
    SimDuplicate,
    SimLimitReached,
    SimNotFound,
    SimSlotTaken,
)
from apps.providers.models import REPUTATION_MAX, REPUTATION_MIN, SCORE_MAX, Device, Provider, Sim, SimCounter
from apps.providers.seal_keys import seal_key_canonical
from apps.providers.services.availability import change_availability, sync_matchable


@dataclass(frozen=True)
class SimInput:
    msisdn: str
    slot: int
    mcc_mnc: str = ""


@dataclass(frozen=True)
class DeviceInput:
    fcm_token: str
    platform: str
    app_version: str
    installation_id: str = ""
    seal_key: str = ""


@dataclass(frozen=True)
class Location:
    latitude: Decimal
    longitude: Decimal


@dataclass(frozen=True)
class SimCaps:
    sim_id: int
    hourly_cap: int | None
    daily_cap: int | None


class _Unset:
    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()  # "not given", as distinct from None ("clear it")


@transaction.atomic
def provider_register(
    *,
    user: Any,
    sims: list[SimInput],
    device: DeviceInput,
    province: str = "",
    location: Location | None = None,
) -> Provider:
    """Make `user` a provider with their SIMs and phone: active at once if PROVIDER_AUTO_ACTIVATE, else pending."""
    if Provider.objects.filter(user=user).exists():
        raise ProviderAlreadyRegistered()
    _refuse_duplicates(sims)
    seal_key_canonical(device.seal_key)  # refused before anything is written
    auto = settings.PROVIDER_AUTO_ACTIVATE
    now = timezone.now()
    try:
        with transaction.atomic():
            provider = Provider.objects.create(
                user=user,
                status=ProviderStatus.ACTIVE if auto else ProviderStatus.PENDING,
                approved_at=now if auto else None,
                province=province,
                latitude=location.latitude if location else None,
                longitude=location.longitude if location else None,
                created_at=now,
            )
    except IntegrityError:
        raise ProviderAlreadyRegistered() from None  # a concurrent registration by the same user won
    audit_record(
        actor=user,
        action="provider.registered",
        target=provider,
        after={"status": provider.status, "province": province, "sims": len(sims)},
    )
    for sim in sims:
        sim_add(provider=provider, actor=user, msisdn=sim.msisdn, slot=sim.slot, mcc_mnc=sim.mcc_mnc)
    device_register(
        provider=provider,
        actor=user,
        fcm_token=device.fcm_token,
        platform=device.platform,
        app_version=device.app_version,
        installation_id=device.installation_id,
        seal_key=device.seal_key,
    )
    return provider


def _refuse_duplicates(sims: list[SimInput]) -> None:
    numbers = [normalize_phone(sim.msisdn).e164 for sim in sims]
    slots = [sim.slot for sim in sims]
    if len(set(numbers)) != len(numbers) or len(set(slots)) != len(slots):
        raise SimDuplicate(details={"msisdns": numbers, "slots": slots})


@transaction.atomic
def sim_add(*, provider: Provider, actor: Any, msisdn: str, slot: int, mcc_mnc: str = "") -> Sim:
    """Register a SIM in the provider's phone. The number is normalised and must be a mobile number of an allowed
    region; its carrier comes from the SIM's MCC-MNC when the app sends one (a disagreement with the number range
    is flagged, not refused: numbers are ported), else from the number range."""
    # Lock the provider so two concurrent adds cannot both pass the SIM limit or take the same slot.
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    _refuse_if_not_active(provider)
    phone = normalize_phone(msisdn)
    deny_list_refuse(kind=DenyKind.SIM, values=[phone.e164])
    detected = carrier_from_phonenumbers(phone.carrier)
    carrier, mismatch = detected, False
    if mcc_mnc:
        carrier = carrier_from_mcc_mnc(mcc_mnc)
        mismatch = detected not in (Carrier.UNKNOWN, carrier)
    own_active = Sim.objects.filter(provider=provider, active=True)
    if Sim.objects.filter(msisdn=phone.e164, active=True).exists():
        raise SimAlreadyRegistered(details={"msisdn": phone.e164})
    if own_active.filter(slot=slot).exists():
        raise SimSlotTaken(details={"slot": slot})
    if own_active.count() >= settings.PROVIDER_MAX_SIMS:
        raise SimLimitReached(details={"max_sims": settings.PROVIDER_MAX_SIMS})
    try:
        with transaction.atomic():
            sim = Sim.objects.create(
                provider=provider,
                msisdn=phone.e164,
                slot=slot,
                carrier=carrier,
                carrier_detected=detected,
                mcc_mnc="".join(ch for ch in mcc_mnc if ch.isdigit()),
                carrier_mismatch=mismatch,
            )
    except IntegrityError:
        # Another provider registered the same number at the same moment (the partial unique index decided).
        raise SimAlreadyRegistered(details={"msisdn": phone.e164}) from None
    SimCounter.objects.create(sim=sim)
    sync_matchable(provider)
    audit_record(
        actor=actor,
        action="provider.sim_added",
        target=sim,
        after={"msisdn": sim.msisdn, "slot": slot, "carrier": carrier, "carrier_mismatch": mismatch},
    )
    return sim


@transaction.atomic
def sim_remove(*, sim: Sim, actor: Any) -> None:
    """Take a SIM out of service; its row stays (inactive) so past jobs still name it, and its number is free."""
    sim = Sim.objects.select_for_update().get(pk=sim.pk)
    if not sim.active:
        raise SimNotFound()
    Sim.objects.filter(pk=sim.pk).update(active=False, matchable=False, removed_at=timezone.now())
    audit_record(actor=actor, action="provider.sim_removed", target=sim, before={"msisdn": sim.msisdn})


@transaction.atomic
def sim_mark_verified(*, sim: Sim, actor: Any) -> Sim:
    """Record that ownership of the SIM was proven. The OTP-to-this-SIM flow (identity issue) calls this."""
    sim = Sim.objects.select_for_update().get(pk=sim.pk)
    if not sim.active:
        raise SimNotFound()
    if sim.verified_at is None:
        sim.verified_at = timezone.now()
        sim.save(update_fields=["verified_at"])
        audit_record(actor=actor, action="provider.sim_verified", target=sim, after={"msisdn": sim.msisdn})
    return sim


@transaction.atomic
def device_register(
    *,
    provider: Provider,
    actor: Any,
    fcm_token: str,
    platform: str,
    app_version: str,
    previous_token: str = "",
    installation_id: str = "",
    seal_key: str = "",
) -> Device:
    """Register the phone's FCM token, or a rotated one (FCM replaces tokens; `previous_token` names the old one).

    A token already bound to another provider's device is refused (`DeviceRegisteredToAnotherProvider`) while that
    device is in use: otherwise anyone who learns a phone's token could take its device record (and its pushes)
    away from its owner. Once the device is retired (`device_is_retired`) the token moves to this provider: the app
    install changed hands. The move is audited as `provider.device_updated`, which the shared-device fraud rule
    reads. Tokens never appear in the audit log or in the error. A device staff deny-listed (by its installation id,
    or its token) is refused (`device_denied`).

    `seal_key` is the phone's HPKE public key (apps.providers.seal_keys; `seal_key_invalid` if it is not one): each
    registration states the phone's current key, so a new one replaces the old and none removes it (pushes then
    carry the job id only). The audit log keeps a fingerprint of it.
    """
    seal_key = seal_key_canonical(seal_key)
    deny_list_refuse(kind=DenyKind.DEVICE, values=[installation_id, fcm_token, previous_token])
    existing = Device.objects.select_for_update().filter(fcm_token=fcm_token).first()
    if existing is not None and existing.provider_id != provider.pk and not device_is_retired(existing):
        raise DeviceRegisteredToAnotherProvider()
    if existing is None and previous_token:
        existing = Device.objects.select_for_update().filter(fcm_token=previous_token, provider=provider).first()
    if existing is None:
        try:
            with transaction.atomic():
                device = Device.objects.create(
                    provider=provider,
                    fcm_token=fcm_token,
                    platform=platform,
                    app_version=app_version,
                    installation_id=installation_id,
                    seal_key=seal_key,
                )
        except IntegrityError:
            # The same token registered concurrently; the winner's row is the device.
            existing = Device.objects.select_for_update().get(fcm_token=fcm_token)
        else:
            after = {**_meta(platform, app_version), **_key_meta(seal_key)}
            audit_record(actor=actor, action="provider.device_added", target=device, after=after)
            return device
    if installation_id and existing.installation_id != installation_id:
        existing.installation_id = installation_id  # saved by _device_update
    return _device_update(
        existing, provider=provider, actor=actor, fcm_token=fcm_token, seal_key=seal_key, **_meta(platform, app_version)
    )


def device_is_retired(device: Device, *, now: datetime | None = None) -> bool:
    """Whether the device has been silent (no heartbeat, and no registration since) for
    PROVIDER_DEVICE_RETIRED_AFTER_DAYS: its owner no longer uses that app install. Devices the push channel or staff
    retire are deleted (`device_remove`), so their tokens are free anyway."""
    now = now or timezone.now()
    last_seen = max(device.last_heartbeat_at or device.updated_at, device.updated_at)
    return last_seen < now - timedelta(days=settings.PROVIDER_DEVICE_RETIRED_AFTER_DAYS)


def _meta(platform: str, app_version: str) -> dict[str, str]:
    return {"platform": platform, "app_version": app_version}


def _key_meta(seal_key: str) -> dict[str, str]:
    """What the audit log keeps of a seal key: present or not, and which (a public key's fingerprint)."""
    return {"seal_key": hashlib.sha256(seal_key.encode()).hexdigest()[:12] if seal_key else ""}


def _device_update(
    device: Device, *, provider: Provider, actor: Any, fcm_token: str, seal_key: str, platform: str, app_version: str
) -> Device:
    before = {
        "provider": device.provider_id,
        **_meta(device.platform, device.app_version),
        **_key_meta(device.seal_key),
    }
    rotated = device.fcm_token != fcm_token
    device.provider, device.fcm_token, device.platform, device.app_version = provider, fcm_token, platform, app_version
    device.seal_key = seal_key
    device.save()  # also bumps updated_at: the device registered last takes heartbeats without a device id
    after = {"provider": provider.pk, **_meta(platform, app_version), **_key_meta(seal_key)}
    if rotated or before != after:
        action = "provider.device_token_rotated" if rotated else "provider.device_updated"
        audit_record(actor=actor, action=action, target=device, before=before, after=after)
    return device


@transaction.atomic
def device_remove(*, device: Device, actor: Any = None, system_actor: str = "system") -> None:
    """Forget a device (the push channel calls this when FCM says its token is dead)."""
    audit_record(
        actor=actor,
        action="provider.device_removed",
        target=device,
        before={"provider": device.provider_id},
        system_actor=system_actor,
    )
    Device.objects.filter(pk=device.pk).delete()


@transaction.atomic
def provider_update(
    *,
    provider: Provider,
    actor: Any,
    availability: str = UNSET,
    province: str = UNSET,
    location: Location | None = UNSET,
    sim_caps: list[SimCaps] = (),
) -> Provider:
    """The provider's own changes: availability (online / busy / offline), province, location, SIM caps.

    Suspended and banned providers may only go offline. Going online counts as a sign of life from the phone.
    Caps must be within PROVIDER_SIM_*_CAP_MAX; None returns a SIM to the network default.
    """
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    now = timezone.now()
    before = _profile(provider)
    if availability is not UNSET and availability != provider.chosen_availability:
        if availability != Availability.OFFLINE:
            _refuse_if_not_active(provider)
            provider.last_heartbeat_at = now
        provider.chosen_availability = availability
        change_availability(provider, availability, reason=AvailabilityReason.PROVIDER, now=now)
    if province is not UNSET:
        provider.province = province
    if location is not UNSET:
        provider.latitude = location.latitude if location else None
        provider.longitude = location.longitude if location else None
    provider.save()
    changed_caps = [_set_caps(provider, caps) for caps in sim_caps]
    sync_matchable(provider)
    after = _profile(provider)
    if before != after or changed_caps:
        audit_record(
            actor=actor,
            action="provider.updated",
            target=provider,
            before=before,
            after={**after, **({"sim_caps": changed_caps} if changed_caps else {})},
        )
    return provider


def _profile(provider: Provider) -> dict[str, Any]:
    location = None
    if provider.latitude is not None:
        location = [str(provider.latitude), str(provider.longitude)]
    return {"availability": provider.chosen_availability, "province": provider.province, "location": location}


def _set_caps(provider: Provider, caps: SimCaps) -> dict[str, Any]:
    sim = Sim.objects.filter(pk=caps.sim_id, provider=provider, active=True).first()
    if sim is None:
        raise SimNotFound(details={"sim": caps.sim_id})
    too_high = {}
    if caps.hourly_cap is not None and caps.hourly_cap > settings.PROVIDER_SIM_HOURLY_CAP_MAX:
        too_high["hourly_cap"] = settings.PROVIDER_SIM_HOURLY_CAP_MAX
    if caps.daily_cap is not None and caps.daily_cap > settings.PROVIDER_SIM_DAILY_CAP_MAX:
        too_high["daily_cap"] = settings.PROVIDER_SIM_DAILY_CAP_MAX
    if too_high:
        raise CapAboveMaximum(details={"sim": sim.pk, "maximum": too_high})
    # A raised cap may give a capped SIM room again; the counters decide at the next reservation.
    Sim.objects.filter(pk=sim.pk).update(hourly_cap=caps.hourly_cap, daily_cap=caps.daily_cap, capped_until=None)
    return {"sim": sim.pk, "hourly_cap": caps.hourly_cap, "daily_cap": caps.daily_cap}


def _refuse_if_not_active(provider: Provider) -> None:
    if provider.status in (ProviderStatus.SUSPENDED, ProviderStatus.BANNED):
        raise ProviderNotActive(details={"status": provider.status})


# Staff decisions: the statuses each may start from, where it leads, and its audit action.
STATUS_MOVES = {
    "approve": ({ProviderStatus.PENDING, ProviderStatus.SUSPENDED}, ProviderStatus.ACTIVE, "provider.approved"),
    "suspend": ({ProviderStatus.PENDING, ProviderStatus.ACTIVE}, ProviderStatus.SUSPENDED, "provider.suspended"),
    "ban": (
        {ProviderStatus.PENDING, ProviderStatus.ACTIVE, ProviderStatus.SUSPENDED},
        ProviderStatus.BANNED,
        "provider.banned",
    ),
}


def provider_approve(*, provider: Provider, actor: Any, reason: str = "") -> Provider:
    """Staff: let a pending provider work, or reinstate a suspended one."""
    return _provider_move(provider=provider, actor=actor, move="approve", reason=reason)


def provider_suspend(*, provider: Provider, actor: Any, reason: str = "") -> Provider:
    """Staff: stop giving the provider work until reinstated; they are taken offline."""
    return _provider_move(provider=provider, actor=actor, move="suspend", reason=reason)


def provider_ban(*, provider: Provider, actor: Any, reason: str = "") -> Provider:
    """Staff: end the provider's work for good (there is no action that lifts a ban)."""
    return _provider_move(provider=provider, actor=actor, move="ban", reason=reason)


@transaction.atomic
def _provider_move(*, provider: Provider, actor: Any, move: str, reason: str) -> Provider:
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    allowed_from, target, action = STATUS_MOVES[move]
    if provider.status not in allowed_from:
        raise ProviderStatusConflict(details={"status": provider.status, "action": move})
    now = timezone.now()
    before = {"status": provider.status}
    provider.status = target
    if target == ProviderStatus.ACTIVE and provider.approved_at is None:
        provider.approved_at = now
    if target != ProviderStatus.ACTIVE:
        provider.chosen_availability = Availability.OFFLINE
        change_availability(provider, Availability.OFFLINE, reason=AvailabilityReason.STAFF, now=now)
    provider.save()
    sync_matchable(provider)
    audit_record(
        actor=actor,
        action=action,
        target=provider,
        before=before,
        after={"status": target, **({"reason": reason} if reason else {})},
    )
    return provider


# How far each kind of outcome moves the reputation: toward 1000 (good) or 0 (bad), by this share of the distance.
REPUTATION_OUTCOMES: dict[str, tuple[int, float]] = {
    "delivered": (REPUTATION_MAX, 0.02),
    "failed": (REPUTATION_MIN, 0.03),
    "timeout": (REPUTATION_MIN, 0.05),  # took a job and neither sent it nor gave it back
    "canary_confirmed": (REPUTATION_MAX, 0.1),  # proven delivery of an audit message
}
# Outcomes that also count toward the provider's success rate, and the counter each one adds to.
OUTCOME_COUNTERS = {"delivered": "jobs_delivered", "failed": "jobs_failed"}


def provider_reputation_outcome(*, provider_id: int, outcome: str, count: bool = False) -> None:
    """Feed one outcome of the provider's work into its reputation (see REPUTATION_OUTCOMES). With `count`, a
    delivery or a failure is also counted toward the provider's success rate (the delivery app counts each job's
    outcome once), in the same statement.

    Not audited: a tally and a running score of outcomes that are themselves recorded by the delivery app.
    """
    toward, weight = REPUTATION_OUTCOMES[outcome]
    counter = OUTCOME_COUNTERS[outcome] if count else None
    provider_reputation_nudge(provider_id=provider_id, toward=toward, weight=weight, counter=counter)


def providers_reputation_outcomes(*, outcomes: Mapping[int, Sequence[tuple[str, bool]]]) -> None:
    """`provider_reputation_outcome` for several (outcome, count) of each of several providers (provider id → its
    outcomes, in order: a settle batch's, a phone's batch of reports). Every step of each running score is taken in
    the database, one after the other, exactly as one statement per outcome would take it (each step rounds), and the
    counters each add how many were counted; the providers' rows are locked in id order.

    On PostgreSQL one statement whatever the number of providers and outcomes (one constant text, prepared: the
    values travel as arrays) — but a single outcome of a single provider, which takes the one-outcome statement of
    `provider_reputation_outcome`. It was two statements per provider (the row locked and read, then the walk). On
    SQLite, per provider, the row read and then walked.

    Not audited, as for one outcome."""
    if not outcomes:
        return
    if len(outcomes) == 1:
        [(provider_id, steps)] = outcomes.items()
        if len(steps) <= 1:
            for outcome, count in steps:
                provider_reputation_outcome(provider_id=provider_id, outcome=outcome, count=count)
            return
    if connection.vendor != "postgresql":
        for provider_id, steps in sorted(outcomes.items()):  # the same lock order in every request
            _reputation_walk(provider_id, steps)
        return
    columns: tuple[list[Any], ...] = ([], [], [], [])  # each step's provider, number, toward and weight
    counted: tuple[list[int], list[int], list[int]] = ([], [], [])  # each provider's id and counted outcomes
    for provider_id, steps in sorted(outcomes.items()):
        for n, (outcome, _) in enumerate(steps, start=1):
            toward, weight = REPUTATION_OUTCOMES[outcome]
            # A weight goes as the numeric its literal is (see `_reputation_change`).
            for column, value in zip(columns, (provider_id, n, toward, Decimal(repr(weight))), strict=True):
                column.append(value)
        tally = Tally(OUTCOME_COUNTERS[outcome] for outcome, count in steps if count)
        for column, value in zip(counted, (provider_id, tally["jobs_delivered"], tally["jobs_failed"]), strict=True):
            column.append(value)
    with transaction.atomic(savepoint=False), prepared_cursor() as cursor:
        cursor.execute(_WALKS, [*columns, *counted, counted[0], REPUTATION_MAX, REPUTATION_MIN])
        rows = cursor.fetchall()
    for provider_id, *row in rows:
        _reputation_changed(provider_id, tuple(row))


def _reputation_walk(provider_id: int, outcomes: Sequence[tuple[str, bool]]) -> None:
    """One provider's outcomes walked on SQLite: the row read (one writer at a time: nothing changes it meanwhile),
    then every step taken in one UPDATE."""
    counters: Tally[str] = Tally(OUTCOME_COUNTERS[outcome] for outcome, count in outcomes if count)
    counted = "".join(f", {column} = {column} + {int(n)}" for column, n in _counter_columns(counters))
    steps = ", ".join(["(%s, %s, %s)"] * len(outcomes))
    step_params = [
        value for n, (outcome, _) in enumerate(outcomes, start=1) for value in (n, *REPUTATION_OUTCOMES[outcome])
    ]
    # Each step is the nudge of `provider_reputation_nudge`, over the value the step before it left.
    nudge = _NUDGE.format(old="walk.reputation", greatest="MAX", least="MIN").replace(
        "(%s - walk.reputation) * %s", "(steps.toward - walk.reputation) * steps.weight", 1
    )
    update = (
        f"WITH RECURSIVE steps(n, toward, weight) AS (VALUES {steps}), "  # noqa: S608 - constant SQL and placeholders only
        "walk(n, reputation) AS (SELECT 0, CAST(reputation AS integer) FROM providers_provider WHERE id = %s "
        f"UNION ALL SELECT walk.n + 1, CAST({nudge} AS integer) FROM walk JOIN steps ON steps.n = walk.n + 1) "
        "UPDATE providers_provider SET reputation = (SELECT reputation FROM walk ORDER BY n DESC LIMIT 1)"
        f"{counted} WHERE id = %s RETURNING reputation, status, availability, jobs_in_flight"
    )
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        cursor.execute("SELECT reputation FROM providers_provider WHERE id = %s", [provider_id])
        before = cursor.fetchone()
        cursor.execute(update, [*step_params, provider_id, REPUTATION_MAX, REPUTATION_MIN, provider_id])
        after = cursor.fetchone()
    _reputation_changed(provider_id, (*before, *after) if before and after else None)


# A step `weight` (0-1) of the way toward `toward`, SQL over the current value `{old}`; placeholders: toward, weight,
# the maximum, the minimum.
_NUDGE = "{greatest}({least}({old} + CAST(ROUND((%s - {old}) * %s) AS integer), %s), %s)"


# `providers_reputation_outcomes` on PostgreSQL. The rows are locked in id order first (`locked`: a locking sub-select
# sorts before it locks), so the walk starts from their latest values — the UPDATE's own scan would lock them in
# whatever order its plan takes, and start the walk from its snapshot's. Each provider's last step is its new value.
# Parameters: the steps' providers, numbers, towards and weights; the providers, their delivered and failed counts;
# the providers again; the maximum, the minimum.
_WALKS = (
    "WITH RECURSIVE steps(provider_id, n, toward, weight) AS ("  # noqa: S608 - constant SQL and placeholders only
    "SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::integer[], %s::numeric[])), "
    "counts(provider_id, delivered, failed) AS (SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::integer[])), "
    "locked AS (SELECT id, reputation FROM providers_provider WHERE id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE), "
    "walk(provider_id, n, reputation) AS (SELECT id, 0, CAST(reputation AS integer) FROM locked "
    "UNION ALL SELECT walk.provider_id, walk.n + 1, CAST("
    + _NUDGE.format(old="walk.reputation", greatest="GREATEST", least="LEAST").replace(
        "(%s - walk.reputation) * %s", "(steps.toward - walk.reputation) * steps.weight", 1
    )
    + " AS integer) FROM walk JOIN steps ON steps.provider_id = walk.provider_id AND steps.n = walk.n + 1), "
    "last AS (SELECT DISTINCT ON (provider_id) provider_id, reputation FROM walk ORDER BY provider_id, n DESC) "
    "UPDATE providers_provider AS provider SET reputation = last.reputation, "
    "jobs_delivered = provider.jobs_delivered + counts.delivered, jobs_failed = provider.jobs_failed + counts.failed "
    "FROM last JOIN locked ON locked.id = last.provider_id JOIN counts ON counts.provider_id = last.provider_id "
    "WHERE provider.id = last.provider_id RETURNING provider.id, locked.reputation, provider.reputation, "
    "provider.status, provider.availability, provider.jobs_in_flight"
)


def provider_reputation_nudge(*, provider_id: int, toward: int, weight: float, counter: str | None = None) -> None:
    """Move the reputation a step `weight` (0-1) of the way toward `toward`: an exponentially weighted score that
    every outcome updates (delivery, failure, timeout, canary). `counter` names a tally to add one to as well.

    Not audited: a running score fed by outcomes that are themselves recorded (reports, jobs, fraud flags).
    """
    _reputation_change(
        provider_id=provider_id,
        reputation=_NUDGE,
        params=[toward, weight, REPUTATION_MAX, REPUTATION_MIN],
        counter=counter,
    )


def provider_reputation_penalty(*, provider_id: int, points: int) -> None:
    """Take `points` off the reputation at once (a fraud strike). Not audited here: the strike is."""
    _reputation_change(
        provider_id=provider_id, reputation="{greatest}({old} - %s, %s)", params=[points, REPUTATION_MIN]
    )


def _counter_columns(counters: Tally[str]) -> list[tuple[str, int]]:
    return [
        (connection.ops.quote_name(Provider._meta.get_field(name).column), count)
        for name, count in sorted(counters.items())
    ]


def _reputation_change(*, provider_id: int, reputation: str, params: list, counter: str | None = None) -> None:
    """Set the reputation to `reputation`, SQL over the current value `{old}` (with `{greatest}` and `{least}` for
    the database's functions), and add one to `counter` if given. Runs in the caller's transaction, if any.

    Matchability depends on the reputation only through PROVIDER_MIN_REPUTATION, so the SIMs' `matchable` flags are
    synced only when the change crossed it. On PostgreSQL that takes one statement: the UPDATE locks the row in a
    sub-select and returns the reputation before and after, with the fields `provider_is_matchable` reads. SQLite
    cannot return a joined value, so there the reputation is read first, in the same transaction (SQLite has one
    writer at a time).
    """
    counted = "".join(
        f", {column} = {column} + 1" for column, _ in _counter_columns(Tally([counter] if counter else []))
    )
    if connection.vendor == "postgresql":
        new = reputation.format(old="old.reputation", greatest="GREATEST", least="LEAST")
        update = (
            f"UPDATE providers_provider AS provider SET reputation = {new}{counted} "  # noqa: S608 - constant SQL and placeholders only
            "FROM (SELECT id, reputation FROM providers_provider WHERE id = %s FOR UPDATE) AS old "
            "WHERE provider.id = old.id RETURNING old.reputation, provider.reputation, provider.status, "
            "provider.availability, provider.jobs_in_flight"
        )
        # Prepared (one text per form and counter): bound in the client it was planned at every one of the ~1 per
        # message it runs (each report's delivery nudges), which cost PostgreSQL more than executing it. A float
        # goes as the numeric its literal was (a float8 parameter would round half to even, the literal half away
        # from zero: a step of the walk could land one point apart from `providers_reputation_outcomes`'s).
        values = [Decimal(repr(value)) if isinstance(value, float) else value for value in params]
        with prepared_cursor() as cursor:
            cursor.execute(update, [*values, provider_id])
            row = cursor.fetchone()
    else:
        new = reputation.format(old="reputation", greatest="MAX", least="MIN")
        update = (
            f"UPDATE providers_provider SET reputation = {new}{counted} WHERE id = %s "  # noqa: S608 - constant SQL and placeholders only
            "RETURNING reputation, status, availability, jobs_in_flight"
        )
        with transaction.atomic(savepoint=False), connection.cursor() as cursor:
            cursor.execute("SELECT reputation FROM providers_provider WHERE id = %s", [provider_id])
            before = cursor.fetchone()
            cursor.execute(update, [*params, provider_id])
            after = cursor.fetchone()
        row = (*before, *after) if before and after else None
    _reputation_changed(provider_id, row)


def _reputation_changed(provider_id: int, row: tuple | None) -> None:
    """Sync the SIMs' `matchable` flags when a change (the reputation before and after, the provider's status,
    availability and jobs in flight) crossed PROVIDER_MIN_REPUTATION."""
    if row is None:
        return
    before, after, status, availability, jobs_in_flight = row
    minimum = settings.PROVIDER_MIN_REPUTATION
    if (before >= minimum) != (after >= minimum):
        provider = Provider(
            pk=provider_id, reputation=after, status=status, availability=availability, jobs_in_flight=jobs_in_flight
        )
        sync_matchable(provider)  # matching skips providers below PROVIDER_MIN_REPUTATION


def provider_scores_set(*, scores: dict[int, tuple[int, dict]], now: datetime | None = None) -> int:
    """Store each provider's score (0-SCORE_MAX) and its parts, as computed by incentives' beat task: provider id →
    (score, parts). How many providers were updated.

    Not audited: a figure recomputed every run from records that are themselves kept (rewards, jobs, strikes).
    """
    now = now or timezone.now()
    updated = 0
    for provider_id, (score, parts) in scores.items():
        score = max(0, min(SCORE_MAX, int(score)))
        updated += Provider.objects.filter(pk=provider_id).update(score=score, score_parts=parts, score_computed_at=now)
    return updated
