"""The analytics pages' figures (and the staff statistics API's): per client, per carrier and province, per provider,
canaries and fraud strikes, over a period of local days. Message figures come from the hourly rollups; provider
outcomes from delivery's daily rows (`DeliveryStat`); nothing here scans the messages or jobs."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Sum
from django.db.models.functions import TruncDay, TruncMonth
from django.http import QueryDict
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.dateparse import parse_date
from django.utils.translation import gettext_lazy as _

from apps.accounts.selectors import organization_names
from apps.backoffice.errors import StatsPeriodInvalid
from apps.backoffice.figures import (
    SUBMITTED,
    admin_list,
    day_start,
    delivery_rate,
    latency_percentiles,
    latency_rows,
    network_rows,
    ppt,
)
from apps.backoffice.models import MessageRollup
from apps.delivery.selectors import canaries_by_day, fraud_strikes_by_day, outcomes_by_provider, strikes_by_provider
from apps.incentives.selectors import earnings_by_provider
from apps.messaging.selectors import segments_waiting_by_carrier
from apps.providers.choices import Carrier, Province
from apps.providers.selectors import (
    online_capacity_by_carrier,
    provider_uptime,
    providers_by_ids,
    providers_online_by_carrier_and_province,
)

PAGES = [
    (reverse_lazy("backoffice:clients"), _("Clients")),
    (reverse_lazy("backoffice:carriers"), _("Carriers and provinces")),
    (reverse_lazy("backoffice:providers"), _("Providers")),
    (reverse_lazy("backoffice:fraud"), _("Canaries and fraud strikes")),
]
MAX_DAYS = 366
PROVIDERS_SHOWN = 50  # uptime is read per provider: the page shows the busiest ones


@dataclass(frozen=True)
class Period:
    """Local days `first` to `last` (both included), grouped per day or per month."""

    first: date
    last: date
    by: str = "day"

    @classmethod
    def from_query(cls, query: QueryDict | dict[str, str]) -> "Period":
        """`from`, `until` (YYYY-MM-DD, default: the last 30 days) and `by` (day or month); `stats_period_invalid`
        for anything else."""
        today = timezone.localdate()
        try:
            first = parse_date(query.get("from") or "") if query.get("from") else today - timedelta(days=29)
            last = parse_date(query.get("until") or "") if query.get("until") else today
        except ValueError:
            raise StatsPeriodInvalid() from None
        by = query.get("by") or "day"
        if first is None or last is None or first > last or (last - first).days >= MAX_DAYS:
            raise StatsPeriodInvalid()
        if by not in ("day", "month"):
            raise StatsPeriodInvalid()
        return cls(first, last, by)

    @property
    def since(self) -> datetime:
        return day_start(self.first)

    @property
    def until(self) -> datetime:
        return self.since + timedelta(days=(self.last - self.first).days + 1)

    def label(self, start: datetime) -> str:
        """The name of the day or month starting at `start` (local time)."""
        local = timezone.localtime(start).date()
        return local.strftime("%Y-%m") if self.by == "month" else local.isoformat()

    def as_dict(self) -> dict[str, str]:
        return {"from": self.first.isoformat(), "until": self.last.isoformat(), "by": self.by}


def _figures(events: dict[str, dict[str, int]]) -> dict[str, Any]:
    """A client's (or carrier's) figures from its event sums {event: {messages, segments, charged, latency_ms}}."""
    counts = {event: sums["messages"] for event, sums in events.items()}
    delivered = events.get("delivered", {})
    mean = delivered.get("latency_ms", 0) / delivered["messages"] / 1000 if delivered.get("messages") else None
    return {
        "submitted": counts.get(SUBMITTED, 0),
        "segments": events.get(SUBMITTED, {}).get("segments", 0),
        "delivered": counts.get("delivered", 0),
        "failed": counts.get("failed", 0) + counts.get("expired", 0) + counts.get("unknown", 0),
        "delivery_rate": delivery_rate(counts),
        "latency_mean_seconds": round(mean, 1) if mean is not None else None,
        "spend_ppt": ppt(delivered.get("charged", 0)),
    }


def _sum_events(rows: Any, key: str) -> dict[Any, dict[str, dict[str, int]]]:
    sums: dict[Any, dict[str, dict[str, int]]] = defaultdict(dict)
    for row in rows:
        sums[row[key]][row["event"]] = {
            name: row[name] or 0 for name in ("messages", "segments", "charged", "latency_ms")
        }
    return sums


_SUMS = {name: Sum(name) for name in ("messages", "segments", "charged", "latency_ms")}


def clients(*, period: Period) -> dict[str, Any]:
    """Per client over the period: volume, segments, delivery rate, mean latency, spend; and the same per day (or
    month) for the whole client base."""
    rows = MessageRollup.objects.filter(hour__gte=period.since, hour__lt=period.until, organization_id__gt=0)
    totals = _sum_events(rows.values("organization_id", "event").annotate(**_SUMS).order_by(), "organization_id")
    names = organization_names(list(totals))
    clients = sorted(
        (
            {
                "organization_id": org,
                "name": names.get(org, str(org)),
                "url": admin_list("messaging_message", organization_id__exact=org),
                **_figures(events),
            }
            for org, events in totals.items()
        ),
        key=lambda row: -row["submitted"],
    )
    # Grouped per local day or month in the database: a month of hourly client rows is far too many to fold here.
    trunc = TruncMonth if period.by == "month" else TruncDay
    per_period: dict[tuple[str, int], dict[str, dict[str, int]]] = defaultdict(dict)
    buckets = rows.annotate(bucket=trunc("hour", tzinfo=timezone.get_current_timezone()))
    for row in buckets.values("bucket", "organization_id", "event").annotate(**_SUMS).order_by():
        per_period[(period.label(row["bucket"]), row["organization_id"])][row["event"]] = {
            name: row[name] or 0 for name in _SUMS
        }
    series = [
        {"period": bucket, "organization_id": org, "name": names.get(org, str(org)), **_figures(events)}
        for (bucket, org), events in sorted(per_period.items())
    ]
    return {"clients": clients, "series": series}


def carriers(*, period: Period, now: datetime | None = None) -> dict[str, Any]:
    """Per carrier: delivery rate and latency over the period, and capacity (segments an hour the online SIMs can
    send) against demand (segments submitted in the last hour, and waiting now). Per province: providers online,
    delivered and failed jobs of its providers."""
    now = now or timezone.now()
    rows = network_rows(since=period.since, until=period.until)
    totals = _sum_events(rows.values("carrier", "event").annotate(**_SUMS).order_by(), "carrier")
    latency = latency_percentiles(latency_rows(since=period.since, until=period.until), by="carrier")
    last_hour = _sum_events(
        network_rows(since=now - timedelta(hours=1))
        .filter(event=SUBMITTED)
        .values("carrier", "event")
        .annotate(**_SUMS)
        .order_by(),
        "carrier",
    )
    capacity, waiting = online_capacity_by_carrier(now=now), segments_waiting_by_carrier()
    carriers = []
    for carrier in Carrier:
        events = totals.get(carrier.value, {})
        carriers.append(
            {
                "carrier": carrier.value,
                "label": str(carrier.label),
                **_figures(events),
                **latency.get(carrier.value, {"p50": None, "p90": None}),
                "capacity_segments_per_hour": capacity.get(carrier.value, 0),
                "demand_segments_last_hour": last_hour.get(carrier.value, {}).get(SUBMITTED, {}).get("segments", 0),
                "segments_waiting": waiting.get(carrier.value, 0),
                "url": admin_list("messaging_message", carrier__exact=carrier.value),
            }
        )
    return {"carriers": carriers, "provinces": _provinces(period)}


def _provinces(period: Period) -> list[dict[str, Any]]:
    online: dict[str, int] = defaultdict(int)
    for row in providers_online_by_carrier_and_province():
        online[row["province"] or ""] += row["providers"]
    outcomes = outcomes_by_provider(since=period.first)
    provinces = {pk: provider.province for pk, provider in providers_by_ids(outcomes).items()}
    delivered: dict[str, int] = defaultdict(int)
    failed: dict[str, int] = defaultdict(int)
    for pk, row in outcomes.items():
        delivered[provinces.get(pk, "")] += row["delivered"] or 0
        failed[provinces.get(pk, "")] += row["failed"] or 0
    rows = []
    for province in sorted(set(online) | set(delivered)):
        ended = delivered[province] + failed[province]
        rows.append(
            {
                "province": province,
                "label": str(Province(province).label) if province in Province.values else str(_("Not given")),
                "providers_online": online.get(province, 0),
                "delivered": delivered[province],
                "failed": failed[province],
                "delivery_rate": round(100 * delivered[province] / ended, 1) if ended else None,
                "url": admin_list("providers_provider", province__exact=province),
            }
        )
    return rows


def providers(*, period: Period) -> dict[str, Any]:
    """The busiest providers of the period: jobs, delivery rate, open strikes, earnings (pending and posted PPT) and
    uptime."""
    outcomes = outcomes_by_provider(since=period.first)
    busiest = sorted(outcomes, key=lambda pk: -((outcomes[pk]["delivered"] or 0) + (outcomes[pk]["failed"] or 0)))
    busiest = busiest[:PROVIDERS_SHOWN]
    found = providers_by_ids(busiest)
    strikes = strikes_by_provider(provider_ids=busiest, since=period.since)
    earnings = earnings_by_provider(provider_ids=busiest, since=period.since)
    until = min(period.until, timezone.now())
    rows = []
    for pk in busiest:
        provider = found.get(pk)
        if provider is None:
            continue
        delivered, failed = outcomes[pk]["delivered"] or 0, outcomes[pk]["failed"] or 0
        earned = earnings.get(pk, {"pending": 0, "posted": 0})
        rows.append(
            {
                "provider_id": pk,
                "name": str(provider),
                "jobs": delivered + failed,
                "delivered": delivered,
                "delivery_rate": round(100 * delivered / (delivered + failed), 1) if delivered + failed else None,
                "strikes": strikes.get(pk, 0),
                "earnings_pending_ppt": ppt(earned["pending"]),
                "earnings_posted_ppt": ppt(earned["posted"]),
                "uptime_percent": round(100 * provider_uptime(provider=provider, since=period.since, until=until), 1),
                "url": reverse_lazy("admin:providers_provider_change", args=[pk]),
            }
        )
    return {"providers": [{**row, "url": str(row["url"])} for row in rows]}


def fraud(*, period: Period) -> dict[str, Any]:
    """Per day: canaries sent and how they ended, the catch rate (of the canaries judged, the share a provider
    reported delivered that never arrived: fake reports caught), and fraud strikes."""
    tz = timezone.get_current_timezone()
    canaries = canaries_by_day(since=period.since, tz=tz)
    strikes = fraud_strikes_by_day(since=period.since, tz=tz)
    rows = []
    day = period.first
    while day <= period.last:
        statuses = canaries.get(day, {})
        judged = statuses.get("confirmed", 0) + statuses.get("missed", 0)
        rows.append(
            {
                "day": day.isoformat(),
                "canaries": sum(statuses.values()),
                "confirmed": statuses.get("confirmed", 0),
                "missed": statuses.get("missed", 0),
                "catch_rate": round(100 * statuses.get("missed", 0) / judged, 1) if judged else None,
                "strikes": strikes.get(day, 0),
                "url": admin_list(
                    "delivery_fraudflag",
                    strike__exact=1,
                    created_at__gte=day_start(day).isoformat(),
                    created_at__lt=day_start(day, 1).isoformat(),
                ),
            }
        )
        day += timedelta(days=1)
    return {"days": rows}
