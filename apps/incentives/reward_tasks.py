"""Periodic jobs of rewards and dynamic pricing (registered in settings.CELERY_BEAT_SCHEDULE). Each is safe to run
twice."""

from celery import shared_task

from apps.incentives.multipliers import route_multipliers_recompute
from apps.incentives.rewards import rewards_post_due


@shared_task(name="incentives.post_due_rewards")
def post_due_rewards(limit: int | None = None) -> int:
    """Post the rewards whose verification window has ended, a bounded batch per run; a full batch asks for the
    next at once instead of waiting for beat."""
    from django.conf import settings

    limit = limit or settings.INCENTIVES_POST_BATCH
    posted = rewards_post_due(limit=limit)
    if posted == limit:
        post_due_rewards.apply_async(kwargs={"limit": limit})
    return posted


@shared_task(name="incentives.recompute_multipliers")
def recompute_multipliers() -> int:
    """Recompute every carrier route's multiplier; how many readings changed."""
    return len(route_multipliers_recompute())


@shared_task(name="incentives.recompute_scores")
def recompute_scores() -> int:
    """Recompute every provider's score (matching weighs candidates by it); how many were stored."""
    from apps.incentives.scores import provider_scores_recompute

    return provider_scores_recompute()


@shared_task(name="incentives.pay_weekly_bonuses")
def pay_weekly_bonuses(period: str | None = None) -> dict[str, int]:
    """Pay the bonuses of `period` (default: the latest week whose rewards are all verified). Runs daily; a week
    already paid books nothing again."""
    from django.utils import timezone

    from apps.incentives.bonuses import bonuses_pay_week, week_to_pay

    return bonuses_pay_week(period=period or week_to_pay(timezone.now()))
