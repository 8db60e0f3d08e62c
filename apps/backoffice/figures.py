"""The operations dashboard's figures: hourly rollups (`MessageRollup`) for everything about messages, and a few
small grouped queries through the other apps' selectors for what is true right now (queues, providers, strikes,
webhooks, money). Each figure carries the admin list behind it."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.db.models import QuerySet, Sum
from django.db.models.functions import TruncDate
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.backoffice.models import MessageRollup
from apps.backoffice.rollup import LATENCY_BUCKETS, SUBMITTED
from apps.delivery.selectors import fraud_strikes_open_count, webhook_endpoints_failing_count
from apps.incentives.selectors import payouts_open_total, rewards_pending_total
from apps.messaging.choices import Priority
from apps.messaging.selectors import messages_held_count, queue_by_priority
from apps.providers.choices import Carrier, Province
from apps.providers.selectors import providers_online_by_carrier_and_province
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal

PPT_SCALE = LEDGER_SCALES[LedgerCode.PPT]
# The statuses a delivery attempt can end in; delivered % is delivered over these (rejected is a content decision).
ENDED = ("delivered", "failed", "expired", "unknown")
SERIES = (SUBMITTED, "delivered", "failed")
SERIES_LABELS = {SUBMITTED: _("Submitted"), "delivered": _("Delivered"), "failed": _("Failed")}


def admin_list(name: str, **filters: Any) -> str:
    """The admin changelist `name` ("messaging_message"), filtered."""
    url = reverse(f"admin:{name}_changelist")
    return f"{url}?{urlencode(filters)}" if filters else url


def local_midnight(moment: datetime) -> datetime:
    return timezone.localtime(moment).replace(hour=0, minute=0, second=0, microsecond=0)


def day_start(day: date, plus_days: int = 0) -> datetime:
    """The local midnight starting `day` (+ `plus_days`): admin list filters on moments take aware times."""
    return local_midnight(timezone.make_aware(datetime.combine(day + timedelta(days=plus_days), datetime.min.time())))


def ppt(amount: int) -> str:
    return amount_decimal(amount, PPT_SCALE)


def network_rows(*, since: datetime, until: datetime | None = None) -> QuerySet[MessageRollup]:
    """The network's rollup rows per carrier and priority of the hours from `since`."""
    rows = MessageRollup.objects.filter(hour__gte=since, organization_id=0, latency_bucket=-1).exclude(carrier="")
    return rows.filter(hour__lt=until) if until else rows


def total_rows(*, since: datetime, until: datetime | None = None) -> QuerySet[MessageRollup]:
    """The network's total rows (one per hour and event) of the hours from `since`: a few thousand for 30 days."""
    rows = MessageRollup.objects.filter(hour__gte=since, carrier="", priority="", organization_id=0, latency_bucket=-1)
    return rows.filter(hour__lt=until) if until else rows


def latency_rows(*, since: datetime, until: datetime | None = None) -> QuerySet[MessageRollup]:
    rows = MessageRollup.objects.filter(hour__gte=since, organization_id=0, latency_bucket__gte=0)
    return rows.filter(hour__lt=until) if until else rows


def percentile(buckets: dict[int, int], fraction: float) -> float | None:
    """The `fraction` percentile, in seconds, of a latency histogram {bucket index: messages}: linear inside the
    bucket it falls in, so it is as precise as the buckets (LATENCY_BUCKETS)."""
    total = sum(buckets.values())
    if not total:
        return None
    rank, seen = fraction * total, 0
    for index in sorted(buckets):
        count = buckets[index]
        if seen + count >= rank:
            low = LATENCY_BUCKETS[index - 1] if index > 0 else 0
            high = LATENCY_BUCKETS[index] if index < len(LATENCY_BUCKETS) else low * 2
            return round(low + (high - low) * ((rank - seen) / count), 1)
        seen += count
    return None


def latency_percentiles(rows: QuerySet[MessageRollup], *, by: str | None = None) -> dict[Any, dict[str, Any]]:
    """p50 and p90 submit→delivered seconds from latency rows, overall (key None) or per `by` (a field)."""
    histograms: dict[Any, dict[int, int]] = defaultdict(dict)
    fields = ["latency_bucket"] + ([by] if by else [])
    for row in rows.values(*fields).annotate(n=Sum("messages")).order_by():
        histograms[row[by] if by else None][row["latency_bucket"]] = row["n"]
    return {key: {"p50": percentile(h, 0.5), "p90": percentile(h, 0.9)} for key, h in histograms.items()}


def delivery_rate(events: dict[str, int]) -> float | None:
    ended = sum(events.get(status, 0) for status in ENDED)
    return round(100 * events.get("delivered", 0) / ended, 1) if ended else None


@dataclass
class Figure:
    label: Any
    value: Any
    url: str
    key: str

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "label": str(self.label), "value": self.value, "url": self.url}


def _today(now: datetime) -> tuple[dict[str, Any], list[Figure]]:
    midnight = local_midnight(now)
    events = {
        row["event"]: row
        for row in total_rows(since=midnight)
        .values("event")
        .annotate(messages=Sum("messages"), charged=Sum("charged"))
        .order_by()
    }
    counts = {event: row["messages"] for event, row in events.items()}
    latency = latency_percentiles(latency_rows(since=midnight)).get(None, {"p50": None, "p90": None})
    day = {"created_at__gte": midnight.isoformat()}
    messages = "messaging_message"
    figures = [
        Figure(_("Submitted today"), counts.get(SUBMITTED, 0), admin_list(messages, **day), "submitted"),
        Figure(
            _("Delivered today (%)"),
            delivery_rate(counts),
            admin_list(messages, status__exact="delivered", **day),
            "delivered_rate",
        ),
        Figure(
            _("Delivered today"),
            counts.get("delivered", 0),
            admin_list(messages, status__exact="delivered", **day),
            "delivered",
        ),
        Figure(
            _("Failed today"), counts.get("failed", 0), admin_list(messages, status__exact="failed", **day), "failed"
        ),
        Figure(
            _("Expired today"),
            counts.get("expired", 0),
            admin_list(messages, status__exact="expired", **day),
            "expired",
        ),
        Figure(
            _("p50 submit→delivered (s)"), latency["p50"], admin_list(messages, status__exact="delivered", **day), "p50"
        ),
        Figure(
            _("p90 submit→delivered (s)"), latency["p90"], admin_list(messages, status__exact="delivered", **day), "p90"
        ),
        Figure(
            _("Revenue today (PPT)"),
            ppt((events.get("delivered") or {}).get("charged") or 0),
            admin_list("tokens_transfer", reason__exact="charge"),
            "revenue",
        ),
    ]
    return {"counts": counts, "latency": latency}, figures


def _now_figures() -> list[Figure]:
    rewards, payouts = rewards_pending_total(), payouts_open_total()
    return [
        Figure(_("Held for review"), messages_held_count(), admin_list("messaging_heldmessage"), "held"),
        Figure(
            _("Open fraud strikes"),
            fraud_strikes_open_count(),
            admin_list("delivery_fraudflag", strike__exact=1, cleared_at__isempty=1),
            "strikes",
        ),
        Figure(
            _("Webhook endpoints failing"),
            webhook_endpoints_failing_count(),
            admin_list("delivery_webhookendpoint"),
            "webhooks_failing",
        ),
        Figure(
            _("Rewards pending (PPT)"),
            ppt(rewards["amount"]),
            admin_list("incentives_reward", status__exact="pending"),
            "rewards_pending",
        ),
        Figure(_("Payouts pending"), payouts["count"], admin_list("incentives_payout"), "payouts_pending"),
    ]


def _queues(now: datetime) -> list[dict[str, Any]]:
    queued = queue_by_priority()
    rows = []
    for priority in Priority:
        row = queued.get(priority.value) or {"messages": 0, "oldest": None}
        oldest = row["oldest"]
        rows.append(
            {
                "priority": priority.value,
                "label": str(priority.label),
                "messages": row["messages"],
                "oldest_seconds": int((now - oldest).total_seconds()) if oldest else None,
                "url": admin_list("messaging_message", status__exact="queued", priority__exact=priority.value),
            }
        )
    return rows


def _providers_online() -> dict[str, list[dict[str, Any]]]:
    by_carrier: dict[str, int] = defaultdict(int)
    by_province: dict[str, int] = defaultdict(int)
    for row in providers_online_by_carrier_and_province():
        by_carrier[row["carrier"]] += row["providers"]
        by_province[row["province"] or ""] += row["providers"]
    online = "providers_provider"
    carriers = [
        {
            "key": carrier,
            "label": str(Carrier(carrier).label) if carrier in Carrier.values else carrier,
            "providers": count,
            "url": admin_list(online, availability__exact="online", carrier=carrier),
        }
        for carrier, count in sorted(by_carrier.items())
    ]
    provinces = [
        {
            "key": province,
            "label": str(Province(province).label) if province in Province.values else str(_("Not given")),
            "providers": count,
            "url": admin_list(online, availability__exact="online", province__exact=province),
        }
        for province, count in sorted(by_province.items(), key=lambda item: -item[1])
    ]
    return {"carriers": carriers, "provinces": provinces}


def series_by_hour(*, since: datetime, hours: int) -> list[dict[str, Any]]:
    """Submitted, delivered and failed per hour from `since` (a whole hour), for `hours` hours."""
    counts: dict[datetime, dict[str, int]] = defaultdict(dict)
    rows = total_rows(since=since, until=since + timedelta(hours=hours)).filter(event__in=SERIES)
    for row in rows.values("hour", "event").annotate(n=Sum("messages")).order_by():
        counts[row["hour"]][row["event"]] = row["n"]
    points = []
    for step in range(hours):
        start = since + timedelta(hours=step)
        local = timezone.localtime(start)
        query = {"created_at__gte": local.isoformat(), "created_at__lt": (local + timedelta(hours=1)).isoformat()}
        points.append(
            {
                "label": local.strftime("%H"),
                "title": local.strftime("%Y-%m-%d %H:00"),
                "url": admin_list("messaging_message", **query),
                **{event: counts[start].get(event, 0) for event in SERIES},
            }
        )
    return points


def series_by_day(*, first: date, days: int) -> list[dict[str, Any]]:
    """Submitted, delivered and failed per local day from `first`, for `days` days."""
    start = day_start(first)
    counts: dict[date, dict[str, int]] = defaultdict(dict)
    rows = total_rows(since=start, until=start + timedelta(days=days)).filter(event__in=SERIES)
    # Summed per local day by the database (TruncDate in the current time zone): 90 rows, not the ~2,200 hours,
    # each of which would be converted and moved to local time here.
    for row in rows.annotate(day=TruncDate("hour")).values("day", "event").annotate(n=Sum("messages")).order_by():
        counts[row["day"]][row["event"]] = row["n"]
    points = []
    for step in range(days):
        day = first + timedelta(days=step)
        query = {"created_at__gte": day_start(day).isoformat(), "created_at__lt": day_start(day, 1).isoformat()}
        points.append(
            {
                "label": day.strftime("%d"),
                "title": day.isoformat(),
                "url": admin_list("messaging_message", **query),
                **{event: counts[day].get(event, 0) for event in SERIES},
            }
        )
    return points


def dashboard(*, now: datetime | None = None) -> dict[str, Any]:
    """Every figure of the dashboard, as plain data (the admin page, its JSON refresh and the staff API)."""
    now = now or timezone.now()
    _summary, today = _today(now)
    this_hour = now.replace(minute=0, second=0, microsecond=0)
    first_day = timezone.localtime(now).date() - timedelta(days=29)
    return {
        "generated_at": now.isoformat(),
        "figures": [figure.as_dict() for figure in today + _now_figures()],
        "queues": _queues(now),
        "providers_online": _providers_online(),
        "hours": series_by_hour(since=this_hour - timedelta(hours=23), hours=24),
        "days": series_by_day(first=first_day, days=30),
    }
