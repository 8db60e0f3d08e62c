"""Reads of delivery's tables for the back office: fraud strikes, canaries, webhook endpoints, daily outcomes."""

from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from django.conf import settings
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.delivery.choices import CanaryStatus
from apps.delivery.models import Canary, DeliveryStat, FraudFlag
from apps.delivery.webhooks.models import WebhookEndpoint


def fraud_strikes_open_count(*, now: datetime | None = None) -> int:
    """Strikes that still count toward suspension: not cleared by staff, inside FRAUD_STRIKE_WINDOW_DAYS."""
    since = (now or timezone.now()) - timedelta(days=settings.FRAUD_STRIKE_WINDOW_DAYS)
    return FraudFlag.objects.filter(strike=True, cleared_at__isnull=True, created_at__gte=since).count()


def webhook_endpoints_failing_count() -> int:
    """Client webhook endpoints that are failing now: the last delivery attempts failed, or we disabled them."""
    return WebhookEndpoint.objects.filter(Q(consecutive_failures__gt=0) | Q(disabled_at__isnull=False)).count()


def fraud_strikes_by_day(*, since: datetime, tz: tzinfo) -> dict[date, int]:
    """Strikes (cleared or not) per local day of `tz` since `since`: one grouped query."""
    rows = (
        FraudFlag.objects.filter(strike=True, created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["day"]: row["n"] for row in rows}


def canaries_by_day(*, since: datetime, tz: tzinfo) -> dict[date, dict[str, int]]:
    """Canaries sent since `since` per local day of `tz` and status (confirmed, missed, undelivered, pending)."""
    rows = (
        Canary.objects.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    days: dict[date, dict[str, int]] = {}
    for row in rows:
        days.setdefault(row["day"], dict.fromkeys(CanaryStatus.values, 0))[row["status"]] = row["n"]
    return days


def outcomes_by_provider(*, since: date) -> dict[int, dict[str, int]]:
    """Delivered and failed jobs per provider since the local day `since`, from the daily outcome rows the fraud
    scan keeps (`DeliveryStat`): one grouped query, no scan of the jobs."""
    rows = (
        DeliveryStat.objects.filter(day__gte=since, provider__isnull=False)
        .values("provider_id")
        .annotate(delivered=Sum("delivered"), failed=Sum("failed"))
        .order_by()
    )
    return {row["provider_id"]: {"delivered": row["delivered"], "failed": row["failed"]} for row in rows}


def strikes_by_provider(*, provider_ids: list[int], since: datetime) -> dict[int, int]:
    """Strikes per provider since `since`, cleared ones excluded."""
    rows = (
        FraudFlag.objects.filter(
            provider_id__in=provider_ids, strike=True, cleared_at__isnull=True, created_at__gte=since
        )
        .values("provider_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {row["provider_id"]: row["n"] for row in rows}


def webhook_endpoints_failing() -> Any:
    """The failing endpoints themselves (for the staff statistics API's detail)."""
    return WebhookEndpoint.objects.filter(Q(consecutive_failures__gt=0) | Q(disabled_at__isnull=False))


def fraud_flags_of_provider(*, provider_id: int, limit: int = 20) -> list[FraudFlag]:
    """The provider's most recent fraud flags (strikes and warnings), newest first, for its admin page."""
    return list(FraudFlag.objects.filter(provider_id=provider_id).order_by("-created_at", "-id")[:limit])
