"""The provider score: one number (0-1000) from five parts, each 0-1, shown to the provider with its parts and used
by matching as the provider's quality (stored on the provider through `providers.services.provider_scores_set`).

- reputation: the delivery app's running reputation, over its maximum;
- delivery: verified delivery rate: the success rate of reported outcomes (delivered over delivered and failed,
  smoothed so a newcomer starts at one half) times the share of settled rewards that posted rather than were
  voided in the last 30 days;
- latency: mean seconds from offer to delivery report over the last 7 days, 1 at SCORE_FAST_SECONDS or less, 0 at
  SCORE_SLOW_SECONDS or more (no deliveries yet: one half);
- uptime: share of the last 7 days online;
- strikes: 1 without fraud strikes in the last 30 days, less a share per strike, 0 at the suspension threshold.
The score is their weighted sum (SCORE_WEIGHTS, in thousandths: they add up to 1000).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, Q
from django.utils import timezone

from apps.delivery.models import FraudFlag
from apps.incentives.choices import RewardStatus
from apps.incentives.models import Reward
from apps.messaging.selectors import delivery_seconds_by_provider
from apps.providers.choices import ProviderStatus
from apps.providers.models import REPUTATION_MAX, Provider
from apps.providers.selectors import provider_uptime
from apps.providers.services import provider_scores_set

SCORE_WEIGHTS = {"reputation": 300, "delivery": 300, "latency": 100, "uptime": 150, "strikes": 150}
SCORE_FAST_SECONDS = 15.0
SCORE_SLOW_SECONDS = 300.0
RECENT = timedelta(days=30)
WEEK = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Score:
    score: int
    parts: dict[str, float]


def _latency_part(seconds: float | None) -> float:
    if seconds is None:
        return 0.5
    share = (SCORE_SLOW_SECONDS - seconds) / (SCORE_SLOW_SECONDS - SCORE_FAST_SECONDS)
    return max(0.0, min(1.0, share))


def provider_scores(*, providers: Iterable[Provider], now: datetime | None = None) -> dict[int, Score]:
    """The scores of `providers` now: a few grouped queries for the batch, plus one uptime read each."""
    now = now or timezone.now()
    providers = list(providers)
    ids = [provider.pk for provider in providers]
    settled = {
        row["provider_id"]: row
        for row in Reward.objects.filter(provider_id__in=ids, settled_at__gte=now - RECENT)
        .values("provider_id")
        .annotate(
            posted=Count("pk", filter=Q(status=RewardStatus.POSTED)),
            voided=Count("pk", filter=Q(status=RewardStatus.VOIDED)),
        )
    }
    strikes = dict(
        FraudFlag.objects.filter(
            provider_id__in=ids, strike=True, cleared_at__isnull=True, created_at__gte=now - RECENT
        )
        .values("provider_id")
        .annotate(count=Count("pk"))
        .values_list("provider_id", "count")
    )
    latency = delivery_seconds_by_provider(provider_ids=ids, since=now - WEEK)
    to_suspend = max(1, settings.FRAUD_STRIKES_TO_SUSPEND)
    scores = {}
    for provider in providers:
        rewards = settled.get(provider.pk, {"posted": 0, "voided": 0})
        success = (provider.jobs_delivered + 1) / (provider.jobs_delivered + provider.jobs_failed + 2)
        verified = (rewards["posted"] + 1) / (rewards["posted"] + rewards["voided"] + 1)
        parts = {
            "reputation": provider.reputation / REPUTATION_MAX,
            "delivery": success * verified,
            "latency": _latency_part(latency.get(provider.pk)),
            "uptime": provider_uptime(provider=provider, since=now - WEEK, until=now),
            "strikes": max(0.0, 1 - strikes.get(provider.pk, 0) / to_suspend),
        }
        parts = {name: round(value, 3) for name, value in parts.items()}
        total = sum(SCORE_WEIGHTS[name] * value for name, value in parts.items())
        scores[provider.pk] = Score(score=round(total), parts=parts)
    return scores


def provider_scores_recompute(*, now: datetime | None = None, batch: int = 500) -> int:
    """Recompute and store the score of every provider not banned, in batches by id; how many were stored."""
    now = now or timezone.now()
    stored, last_id = 0, 0
    candidates = Provider.objects.exclude(status=ProviderStatus.BANNED).order_by("pk")
    while True:
        providers = list(candidates.filter(pk__gt=last_id)[:batch])
        if not providers:
            return stored
        scores = provider_scores(providers=providers, now=now)
        stored += provider_scores_set(
            scores={provider_id: (score.score, score.parts) for provider_id, score in scores.items()}, now=now
        )
        last_id = providers[-1].pk
