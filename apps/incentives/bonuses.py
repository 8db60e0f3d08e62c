"""Weekly bonuses, paid by beat once a week's rewards are all verified: the leaderboard, loyalty streaks, uptime.

Weeks are ISO weeks in local time (Cambodia's), labelled `2026-W49`. A bonus is a posted ledger transfer from the
platform's rewards account to the provider, `bonus:<kind>:<week>:provider:<id>`, recorded once (`Bonus`, unique per
kind, week and provider): running a week twice books nothing twice. Each kind follows the staff's `BonusRule` valid
when the week started; without one, that kind pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apps.incentives.choices import BonusKind, LeaderboardScope, RewardStatus
from apps.incentives.models import Bonus, BonusRule, Reward
from apps.providers.choices import ProviderStatus
from apps.providers.models import Provider
from apps.providers.selectors import provider_uptime
from apps.tokens.choices import PlatformAccount, Reason, Result
from apps.tokens.errors import TransferRefused
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create


def week_label(moment: datetime) -> str:
    year, week, _ = timezone.localtime(moment).isocalendar()
    return f"{year}-W{week:02d}"


def week_bounds(label: str) -> tuple[datetime, datetime]:
    """Monday 00:00 of the ISO week `label` and of the next, local time."""
    year, week = label.split("-W")
    monday = date.fromisocalendar(int(year), int(week), 1)
    start = timezone.make_aware(datetime.combine(monday, time.min))
    return start, start + timedelta(days=7)


def week_to_pay(now: datetime) -> str:
    """The latest week whose rewards have all left their verification window (the longest, establishment's)."""
    hold = max(settings.INCENTIVES_VERIFICATION_WINDOW_SECONDS, settings.INCENTIVES_ESTABLISHMENT_HOLD_SECONDS)
    return week_label(now - timedelta(days=7, seconds=hold))


def bonus_rule_current(*, kind: str, at: datetime) -> BonusRule | None:
    return BonusRule.objects.valid_at(at).filter(kind=kind).first()


@dataclass(frozen=True, slots=True)
class Standing:
    provider_id: int
    group: str
    segments: int
    score: int
    rank: int


def leaderboard(
    *, start: datetime, end: datetime, scope: str, min_segments: int = 0, min_score: int = 0, verified_only: bool
) -> list[Standing]:
    """Providers ranked by segments delivered between `start` and `end` (ties: the better score, then the earlier
    provider) within each group of `scope`, among those meeting the minimums. `verified_only`: posted rewards only
    (what bonuses pay on); else pending ones count too (the live board of the week in progress)."""
    statuses = [RewardStatus.POSTED] if verified_only else [RewardStatus.POSTED, RewardStatus.PENDING]
    group_field = {LeaderboardScope.CARRIER: "carrier", LeaderboardScope.PROVINCE: "provider__province"}.get(scope)
    rows = (
        Reward.objects.filter(status__in=statuses, booked_at__gte=start, booked_at__lt=end)
        .values("provider_id", *([group_field] if group_field else []))
        .annotate(segments=Sum("segments"))
    )
    scores = {}
    groups: dict[str, list[tuple[int, int, int]]] = {}
    entries = [(row["provider_id"], row.get(group_field, "") if group_field else "", row["segments"]) for row in rows]
    if entries:
        scores = dict(Provider.objects.filter(pk__in={entry[0] for entry in entries}).values_list("pk", "score"))
    for provider_id, group, segments in entries:
        score = scores.get(provider_id) or 0
        if segments >= min_segments and score >= min_score:
            groups.setdefault(group or "", []).append((provider_id, segments, score))
    standings = []
    for group, members in sorted(groups.items()):
        members.sort(key=lambda member: (-member[1], -member[2], member[0]))
        standings += [
            Standing(provider_id=provider_id, group=group, segments=segments, score=score, rank=rank)
            for rank, (provider_id, segments, score) in enumerate(members, start=1)
        ]
    return standings


def bonus_pay(
    *, provider_id: int, kind: str, period: str, rule: BonusRule, amount: int, group: str = "",
    rank: int | None = None, details: dict | None = None,
) -> Bonus | None:  # fmt: skip
    """Pay one bonus, once: the new `Bonus`, or None when this kind was already paid to the provider that week."""
    transfer_id = f"bonus:{kind}:{period}:provider:{provider_id}"
    try:
        with transaction.atomic():
            bonus = Bonus.objects.create(
                provider_id=provider_id, kind=kind, period=period, rule=rule, group=group, rank=rank,
                amount=amount, details=details or {}, transfer_id=transfer_id,
            )  # fmt: skip
            spec = TransferSpec(
                id=transfer_id,
                amount=amount,
                debit_account_id=platform_account(PlatformAccount.REWARDS).pk,
                credit_account_id=account_open(provider=Provider.objects.get(pk=provider_id)).pk,
                reason=Reason.REWARD,
                memo=f"{kind} bonus {period}",
            )
            (result,) = transfers_create([spec])
            if result not in (Result.OK, Result.EXISTS):
                raise TransferRefused(code=result, details={"transfer_id": transfer_id})
    except IntegrityError:
        return None
    return bonus


def bonuses_pay_week(*, period: str) -> dict[str, int]:
    """Pay every kind of bonus for the week `period`; how many of each were paid now. Safe to run twice."""
    start, end = week_bounds(period)
    paid = {kind: 0 for kind in BonusKind.values}
    rule = bonus_rule_current(kind=BonusKind.LEADERBOARD, at=start)
    if rule is not None:
        standings = leaderboard(
            start=start, end=end, scope=rule.scope, min_segments=rule.min_segments, min_score=rule.min_score,
            verified_only=True,
        )  # fmt: skip
        for standing in standings:
            if standing.rank <= len(rule.amounts) and rule.amounts[standing.rank - 1] > 0:
                paid[BonusKind.LEADERBOARD] += bool(
                    bonus_pay(
                        provider_id=standing.provider_id, kind=BonusKind.LEADERBOARD, period=period, rule=rule,
                        amount=rule.amounts[standing.rank - 1], group=standing.group, rank=standing.rank,
                        details={"segments": standing.segments, "score": standing.score},
                    )
                )  # fmt: skip
    rule = bonus_rule_current(kind=BonusKind.STREAK, at=start)
    if rule is not None and rule.amounts:
        for provider_id, days in _streaks(start, end):
            paid[BonusKind.STREAK] += bool(
                bonus_pay(
                    provider_id=provider_id, kind=BonusKind.STREAK, period=period, rule=rule,
                    amount=rule.amounts[0], details={"days": days},
                )
            )  # fmt: skip
    rule = bonus_rule_current(kind=BonusKind.UPTIME, at=start)
    if rule is not None and rule.amounts:
        for provider in Provider.objects.filter(status=ProviderStatus.ACTIVE, created_at__lt=end).order_by("pk"):
            uptime = provider_uptime(provider=provider, since=start, until=end)
            if uptime * 10_000 >= rule.min_uptime_bp:
                paid[BonusKind.UPTIME] += bool(
                    bonus_pay(
                        provider_id=provider.pk, kind=BonusKind.UPTIME, period=period, rule=rule,
                        amount=rule.amounts[0], details={"uptime": round(uptime, 4)},
                    )
                )  # fmt: skip
    return paid


def _streaks(start: datetime, end: datetime) -> list[tuple[int, int]]:
    """Providers with verified deliveries on each of the week's seven days and no reward voided that week."""
    rows = (
        Reward.objects.filter(booked_at__gte=start, booked_at__lt=end)
        .values("provider_id")
        .annotate(
            days=Count(
                TruncDate("booked_at", tzinfo=timezone.get_current_timezone()),
                filter=Q(status=RewardStatus.POSTED),
                distinct=True,
            ),
            voided=Count("pk", filter=Q(status=RewardStatus.VOIDED)),
        )
    )
    return [(row["provider_id"], row["days"]) for row in rows if row["days"] >= 7 and row["voided"] == 0]
