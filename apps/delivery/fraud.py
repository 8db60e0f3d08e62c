"""Anti-fraud: our providers are strangers, so their word is checked.

- Per report: implausibly fast deliveries, delivered before sent, reports without an acknowledgement, a report
  from a device not bound to the provider, bursts of deliveries.
- Periodically (`fraud_scan`): one phone or SIM appearing under several providers, success rates far above the
  carrier's norm (the carriers' daily totals are refreshed from the providers' rows first).
- Canaries (see `apps.delivery.canaries`): an audit message reported delivered that never arrived.

Findings are `FraudFlag`s; strikes count toward automatic suspension and cost reputation. Everything is audited.
Outcomes also feed the daily success rates and the reputation score (`outcome_record`).
"""

from collections import Counter as Tally
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.audit.services import audit_record
from apps.core.events import publish
from apps.core.prepared import prepared_cursor
from apps.delivery.choices import FraudRule, ReportFlag, ReportStatus
from apps.delivery.events import FraudStrikeCleared, FraudStrikeRecorded
from apps.delivery.models import DeliveryReport, DeliveryStat, FraudFlag
from apps.messaging.models import Job
from apps.providers.choices import ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.services import provider_reputation_penalty, provider_suspend, providers_reputation_outcomes

# A strike costs this much reputation at once (outcomes move it gradually: see REPUTATION_OUTCOMES in providers).
STRIKE_PENALTY = 150
# Report flags that are strikes on their own (a fake report is the likely explanation), and those only noted.
STRIKE_FLAGS = {
    ReportFlag.FAST_DELIVERY: FraudRule.FAST_DELIVERY,
    ReportFlag.DELIVERED_BEFORE_SENT: FraudRule.DELIVERED_BEFORE_SENT,
}
NOTE_FLAGS = {ReportFlag.NO_ACK: FraudRule.NO_ACK}
# How far back the periodic scan looks for shared phones and SIMs.
SHARING_WINDOW = timedelta(days=30)
# The burst rule counts a provider's deliveries over this window (FRAUD_BURST_PER_MINUTE).
BURST_WINDOW = timedelta(minutes=1)


def fraud_flag(
    *, provider_id: int, rule: str, strike: bool, job: Job | None = None, details: dict | None = None
) -> FraudFlag | None:
    """Record a finding once (per provider, rule and job); a strike costs reputation and may suspend the provider.
    Returns None when this job was already flagged for this rule."""
    try:
        with transaction.atomic():
            flag = FraudFlag.objects.create(
                provider_id=provider_id, rule=rule, strike=strike, job=job, details=details or {}
            )
            audit_record(
                action="fraud.strike" if strike else "fraud.flag",
                target_type="providers.provider",
                target_id=provider_id,
                after={"rule": rule, "job": job.pk if job else None, **(details or {})},
                system_actor="fraud",
            )
    except IntegrityError:
        return None
    if strike:
        # Outside the savepoint above (a subscriber's own integrity error must not read as "already flagged"), in
        # the caller's transaction: what subscribers book commits or rolls back with the strike.
        publish(
            FraudStrikeRecorded(provider_id=provider_id, job_id=job.pk if job else None, flag_id=flag.pk, rule=rule)
        )
        provider_reputation_penalty(provider_id=provider_id, points=STRIKE_PENALTY)
        _suspend_if_too_many_strikes(provider_id)
    return flag


def fraud_strike_clear(*, flag: FraudFlag, actor: Any) -> bool:
    """Staff: clear a strike found to be a false alarm (it stops counting toward suspension), audited in the same
    transaction; subscribers (incentives) make good what it cost the provider in that transaction too. Returns
    False, changing nothing, when `flag` is not a strike or was already cleared."""
    with transaction.atomic():
        if not FraudFlag.objects.filter(pk=flag.pk, strike=True, cleared_at__isnull=True).update(
            cleared_at=timezone.now()
        ):
            return False
        audit_record(actor=actor, action="fraud.strike_cleared", target=flag)
        publish(FraudStrikeCleared(provider_id=flag.provider_id, job_id=flag.job_id, flag_id=flag.pk, rule=flag.rule))
    return True


def fraud_strikes_standing(*, provider_id: int, since: datetime | None = None) -> Any:
    """The provider's strikes staff have not cleared (recorded at or after `since`), as a queryset of FraudFlag."""
    strikes = FraudFlag.objects.filter(provider_id=provider_id, strike=True, cleared_at__isnull=True)
    return strikes if since is None else strikes.filter(created_at__gte=since)


def _suspend_if_too_many_strikes(provider_id: int) -> None:
    since = timezone.now() - timedelta(days=settings.FRAUD_STRIKE_WINDOW_DAYS)
    strikes = FraudFlag.objects.filter(
        provider_id=provider_id, strike=True, cleared_at__isnull=True, created_at__gte=since
    ).count()
    if strikes < settings.FRAUD_STRIKES_TO_SUSPEND:
        return
    provider = Provider.objects.filter(pk=provider_id, status=ProviderStatus.ACTIVE).first()
    if provider is not None:
        provider_suspend(provider=provider, actor=None, reason=f"{strikes} fraud strikes")


def fraud_check_report(*, report: DeliveryReport, job: Job, device_id: int | None = None) -> list[FraudFlag]:
    """Turn a report's oddities into flags and strikes. Called after the report is stored."""
    return fraud_check_reports(checks=[(report, job, device_id)])


def fraud_check_reports(
    *, checks: list[tuple[DeliveryReport, Job, int | None]], recent_deliveries: int | None = None
) -> list[FraudFlag]:
    """`fraud_check_report` for a phone's batch of stored reports — (report, job, device id) each, all of one
    provider — with the shared look-ups once per batch: the provider's devices (one query, only if a report names
    a device) and the burst count (after the batch's last applied delivery): `recent_deliveries` when the caller
    counted it already (the provider's `delivered` reports received in the last BURST_WINDOW, the batch's own
    included; a report's lock counts it in the same statement), else one query."""
    found = []
    for report, job, _ in checks:
        for flag in report.flags:
            if flag in STRIKE_FLAGS:
                found.append(fraud_flag(provider_id=job.provider_id, rule=STRIKE_FLAGS[flag], strike=True, job=job))
            elif flag in NOTE_FLAGS and report.status == ReportStatus.DELIVERED:
                found.append(fraud_flag(provider_id=job.provider_id, rule=NOTE_FLAGS[flag], strike=False, job=job))
    named = [(job, device_id) for _, job, device_id in checks if device_id is not None]
    if named:
        bound = set(Device.objects.filter(provider_id=named[0][0].provider_id).values_list("pk", flat=True))
        for job, device_id in named:
            if device_id not in bound:
                details = {"device": device_id}
                found.append(
                    fraud_flag(
                        provider_id=job.provider_id,
                        rule=FraudRule.UNBOUND_DEVICE,
                        strike=True,
                        job=job,
                        details=details,
                    )
                )
    delivered = [job for report, job, _ in checks if report.status == ReportStatus.DELIVERED and report.applied]
    if delivered:
        found.append(_check_burst(delivered[-1], recent=recent_deliveries))
    return [flag for flag in found if flag is not None]


def _check_burst(job: Job, *, recent: int | None = None) -> FraudFlag | None:
    """More deliveries in a minute than a phone can send (carriers allow a few dozen an hour) look invented.
    `recent`: the provider's deliveries in the last BURST_WINDOW, if the caller counted them already."""
    now = timezone.now()
    if recent is None:
        since = connection.ops.adapt_datetimefield_value(now - BURST_WINDOW)
        with prepared_cursor() as cursor:  # a constant text, planned once
            cursor.execute(
                _RECENT_DELIVERIES,
                {"provider": job.provider_id, "status": ReportStatus.DELIVERED.value, "since": since},
            )
            (recent,) = cursor.fetchone()
    if recent <= settings.FRAUD_BURST_PER_MINUTE:
        return None
    already = FraudFlag.objects.filter(
        provider_id=job.provider_id, rule=FraudRule.BURST, created_at__gte=now - timedelta(minutes=10)
    ).exists()
    if already:
        return None
    return fraud_flag(provider_id=job.provider_id, rule=FraudRule.BURST, strike=False, details={"per_minute": recent})


_RECENT_DELIVERIES = (
    "SELECT count(*) FROM delivery_deliveryreport"
    " WHERE provider_id = %(provider)s AND status = %(status)s AND received_at >= %(since)s"
)


def fraud_scan(*, now: datetime | None = None) -> dict[str, int]:
    """The periodic rules: shared phones, shared SIMs and success-rate outliers, after refreshing the carriers'
    daily totals. Safe to run repeatedly (a provider is flagged for the same finding at most once a day)."""
    now = now or timezone.now()
    # The carriers' totals are the norms the outliers are measured against. An outcome counts on the day the phone
    # says it happened, and only while its lease is live; no lease outlives its message's validity, so older days
    # change only if a phone's clock is far behind, and are not summed again.
    delivery_stats_rollup(since=timezone.localdate(now - timedelta(seconds=settings.MESSAGE_VALIDITY_MAX_SECONDS)))
    counts = {"shared_device": 0, "shared_sim": 0, "success_outlier": 0}
    for providers, evidence in _shared_devices(now):
        counts["shared_device"] += _flag_each(providers, FraudRule.SHARED_DEVICE, evidence, now)
    for providers, evidence in _shared_sims(now):
        counts["shared_sim"] += _flag_each(providers, FraudRule.SHARED_SIM, evidence, now)
    for provider_id, evidence in _success_outliers(now):
        counts["success_outlier"] += _flag_each([provider_id], FraudRule.SUCCESS_OUTLIER, evidence, now)
    return counts


def _flag_each(provider_ids: list[int], rule: str, evidence: dict, now: datetime) -> int:
    flagged = 0
    for provider_id in provider_ids:
        if FraudFlag.objects.filter(
            provider_id=provider_id, rule=rule, created_at__gte=now - timedelta(days=1)
        ).exists():
            continue
        if fraud_flag(provider_id=provider_id, rule=rule, strike=False, details=evidence):
            flagged += 1
    return flagged


def _shared_devices(now: datetime) -> list[tuple[list[int], dict]]:
    """A phone (its app install) that moved from one provider to another: the registry records each move."""
    moves = AuditLog.objects.filter(action="provider.device_updated", created_at__gte=now - SHARING_WINDOW)
    found = []
    for before, after, device in moves.values_list("before__provider", "after__provider", "target_id"):
        if before and after and before != after:
            found.append(([int(before), int(after)], {"device": device}))
    return found


def _shared_sims(now: datetime) -> list[tuple[list[int], dict]]:
    """One SIM number registered by several providers (now, or removed recently). Numbers are encrypted: equal
    numbers are grouped by their keyed hash, and the evidence names the SIMs (the flag and its audit entry keep no
    number)."""
    recent = Sim.objects.filter(Q(active=True) | Q(removed_at__gte=now - SHARING_WINDOW))
    shared = recent.values("msisdn_hash").annotate(providers=Count("provider", distinct=True)).filter(providers__gt=1)
    found = []
    for row in shared:
        sims = list(recent.filter(msisdn_hash=row["msisdn_hash"]).order_by("pk").values_list("pk", "provider_id"))
        found.append((sorted({provider for _, provider in sims}), {"sims": [sim for sim, _ in sims]}))
    return found


def _success_outliers(now: datetime) -> list[tuple[int, dict]]:
    """Providers whose success rate today is far above their carrier's: honest phones fail sometimes."""
    today = timezone.localdate(now)
    carriers = {
        stat.carrier: stat.success_rate for stat in DeliveryStat.objects.filter(day=today, provider__isnull=True)
    }
    found = []
    stats = DeliveryStat.objects.filter(day=today, provider__isnull=False).annotate(volume=F("delivered") + F("failed"))
    for stat in stats.filter(volume__gte=settings.FRAUD_OUTLIER_MIN_VOLUME):
        norm = carriers.get(stat.carrier)
        if norm is not None and stat.success_rate - norm >= settings.FRAUD_OUTLIER_MARGIN:
            found.append((stat.provider_id, {"rate": round(stat.success_rate, 3), "carrier_rate": round(norm, 3)}))
    return found


def outcome_record(*, provider_id: int, carrier: str, outcome: str, when: datetime | None = None) -> None:
    """An outcome of a provider's job: a delivery or a failure is counted in the provider's row of the day's success
    rates and toward its success rate; every outcome is fed into the provider's reputation.

    The carrier's daily totals are not counted here (one row per carrier that every report in the network would
    update, and wait on): `fraud_scan` sets them from the providers' rows (`delivery_stats_rollup`)."""
    outcomes_record(outcomes=[Outcome(provider_id=provider_id, carrier=carrier, outcome=outcome, when=when)])


@dataclass(frozen=True, slots=True)
class Outcome:
    provider_id: int
    carrier: str
    outcome: str
    when: datetime | None = None


def outcomes_record(*, outcomes: Sequence[Outcome]) -> None:
    """`outcome_record` for several outcomes (a phone's batch of reports, a settle batch): the day's success-rate rows
    counted (`_bumps`), then each outcome fed into the reputation in order (each step of the running score rounds,
    so they are taken in the order the reports came; `providers_reputation_outcomes`: one statement for all the
    providers on PostgreSQL)."""
    now = timezone.now()
    bumps: Tally[tuple[Any, str, int, str]] = Tally(
        (timezone.localdate(item.when or now), item.carrier, item.provider_id, item.outcome)
        for item in outcomes
        if item.outcome in ("delivered", "failed")
    )
    _bumps(bumps)
    by_provider: dict[int, list[tuple[str, bool]]] = {}
    for item in outcomes:
        by_provider.setdefault(item.provider_id, []).append((item.outcome, item.outcome in ("delivered", "failed")))
    providers_reputation_outcomes(outcomes=by_provider)


def _bumps(bumps: Mapping[tuple[Any, str, int, str], int]) -> None:
    """Add each count to its (day, carrier, provider) row's field. The rows exist but for a provider's first outcome
    of the day: on PostgreSQL one UPDATE for all of them (a settle batch's providers: it was one per row), then
    `_bump` for the rows it did not find; elsewhere, or for one row, `_bump` for each."""
    if len(bumps) <= 1 or connection.vendor != "postgresql":
        for (day, carrier, provider_id, field), count in bumps.items():
            _bump(day=day, carrier=carrier, provider_id=provider_id, field=field, count=count)
        return
    rows: dict[tuple[Any, str, int], dict[str, int]] = {}
    for (day, carrier, provider_id, field), count in sorted(bumps.items()):
        rows.setdefault((day, carrier, provider_id), {"delivered": 0, "failed": 0})[field] += count
    columns: tuple[list[Any], ...] = ([], [], [], [], [])
    for (day, carrier, provider_id), counts in rows.items():
        values = (day, carrier, provider_id, counts["delivered"], counts["failed"])
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    with prepared_cursor() as cursor:
        cursor.execute(_BUMPS, list(columns))
        found = {(day, carrier, provider_id) for day, carrier, provider_id in cursor.fetchall()}
    for (day, carrier, provider_id), counts in rows.items():
        if (day, carrier, provider_id) not in found:
            for field, count in counts.items():
                if count:
                    _bump(day=day, carrier=carrier, provider_id=provider_id, field=field, count=count)


def _bump(*, day: Any, carrier: str, provider_id: int, field: str, count: int = 1) -> None:
    # The row exists but for a provider's first outcome of the day: one prepared UPDATE (every delivery report's).
    parameters = {"day": connection.ops.adapt_datefield_value(day), "carrier": carrier, "provider": provider_id}
    with prepared_cursor() as cursor:
        cursor.execute(_BUMP[field], {**parameters, "count": count})
        if cursor.rowcount:
            return
    rows = DeliveryStat.objects.filter(day=day, carrier=carrier, provider_id=provider_id)
    try:
        with transaction.atomic():
            DeliveryStat.objects.create(day=day, carrier=carrier, provider_id=provider_id, **{field: count})
    except IntegrityError:  # created by a concurrent outcome
        rows.update(**{field: F(field) + count})


_BUMP = {
    field: f"UPDATE delivery_deliverystat SET {field} = {field} + %(count)s"  # noqa: S608 - a column name of ours
    " WHERE day = %(day)s AND carrier = %(carrier)s AND provider_id = %(provider)s"
    for field in ("delivered", "failed")
}
# `_bumps`: the rows' days, carriers and providers, and the counts to add to each, sorted (as the reputation's rows
# are locked in id order; PostgreSQL does not promise an UPDATE's order, but its plan for a batch's few rows, a
# nested loop over the arrays, follows them).
_BUMPS = (
    "UPDATE delivery_deliverystat AS stat SET delivered = stat.delivered + bump.delivered, "
    "failed = stat.failed + bump.failed "
    "FROM unnest(%s::date[], %s::varchar[], %s::bigint[], %s::integer[], %s::integer[]) "
    "AS bump(day, carrier, provider_id, delivered, failed) "
    "WHERE stat.day = bump.day AND stat.carrier = bump.carrier AND stat.provider_id = bump.provider_id "
    "RETURNING stat.day, stat.carrier, stat.provider_id"
)


def delivery_stats_rollup(*, since: date) -> int:
    """Set each carrier's daily totals (the rows without a provider) to the sums of its providers' rows, for the
    days from `since`; returns how many carrier rows changed. Idempotent: it sets, never adds."""
    sums = (
        DeliveryStat.objects.filter(day__gte=since, provider__isnull=False)
        .values("day", "carrier")
        .annotate(total_delivered=Sum("delivered"), total_failed=Sum("failed"))
    )
    totals = {(row["day"], row["carrier"]): (row["total_delivered"], row["total_failed"]) for row in sums}
    changed = []
    for stat in DeliveryStat.objects.filter(day__gte=since, provider__isnull=True):
        # A carrier row whose providers' rows are gone (providers deleted) adds up to nothing.
        delivered, failed = totals.pop((stat.day, stat.carrier), (0, 0))
        if (stat.delivered, stat.failed) != (delivered, failed):
            stat.delivered, stat.failed = delivered, failed
            changed.append(stat)
    DeliveryStat.objects.bulk_update(changed, ["delivered", "failed"])
    # A concurrent rollup may create the same row first: it computed the same sums.
    DeliveryStat.objects.bulk_create(
        [
            DeliveryStat(day=day, carrier=carrier, provider=None, delivered=delivered, failed=failed)
            for (day, carrier), (delivered, failed) in totals.items()
        ],
        ignore_conflicts=True,
    )
    return len(changed) + len(totals)
