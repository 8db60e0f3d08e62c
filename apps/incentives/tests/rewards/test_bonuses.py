"""Weekly bonuses: leaderboard within its scope and minimums, streaks, uptime; each paid once per week however
often the week is run; the live leaderboard in the app."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from apps.incentives.bonuses import bonuses_pay_week, week_bounds, week_label
from apps.incentives.choices import BonusKind
from apps.incentives.models import Bonus, BonusRule, Reward
from apps.incentives.rewards import rewards_post_due
from apps.providers.choices import Availability, Carrier
from apps.providers.models import AvailabilityChange, Provider
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open

pytestmark = pytest.mark.django_db

WEEK = week_label(timezone.now() - timedelta(days=14))  # a whole week in the past


def delivered_in(week: str, deliver, days: range = range(1), to: str | None = None, **message) -> list:
    start, _ = week_bounds(week)
    Provider.objects.update(created_at=start - timedelta(days=30))  # registered before the week: established
    jobs = []
    for day in days:
        with time_machine.travel(start + timedelta(days=day, hours=10), tick=True):
            jobs.append(deliver(to=to or f"012 345 6{len(jobs):02}", **message))
    return jobs


def test_the_leaderboard_pays_the_top_verified_providers_once(established, provider, deliver):
    BonusRule.objects.create(kind=BonusKind.LEADERBOARD, amounts=[5_000_000, 2_000_000], min_segments=2,
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    delivered_in(WEEK, deliver, body="x" * 161)  # 2 segments: qualifies
    _, end = week_bounds(WEEK)
    rewards_post_due(now=end + timedelta(days=5))
    first = bonuses_pay_week(period=WEEK)
    again = bonuses_pay_week(period=WEEK)
    assert (first[BonusKind.LEADERBOARD], again[BonusKind.LEADERBOARD]) == (1, 0)
    bonus = Bonus.objects.get()
    assert (bonus.provider_id, bonus.rank, bonus.amount) == (provider.pk, 1, 5_000_000)
    assert Transfer.objects.get(id=f"bonus:leaderboard:{WEEK}:provider:{provider.pk}").amount == 5_000_000
    assert account_balance(account_open(provider=provider)).available == 80_000 + 5_000_000
    assert ledger_check().breaks == 0


def test_below_the_minimum_or_unverified_earns_no_prize(established, provider, deliver):
    BonusRule.objects.create(kind=BonusKind.LEADERBOARD, amounts=[5_000_000], min_segments=2,
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    delivered_in(WEEK, deliver)  # one segment
    assert bonuses_pay_week(period=WEEK)[BonusKind.LEADERBOARD] == 0
    delivered_in(WEEK, deliver, body="x" * 161)  # now 3 segments, but not yet verified (still pending)
    assert Reward.objects.filter(status="pending").count() == 2
    assert bonuses_pay_week(period=WEEK)[BonusKind.LEADERBOARD] == 0


def test_a_province_leaderboard_pays_rank_1_in_each_province_once(established, deliver):
    BonusRule.objects.create(kind=BonusKind.LEADERBOARD, amounts=[5_000_000, 2_000_000], scope="province",
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    kampot = provider_with_sim(Carrier.CELLCARD, province="kampot")
    delivered_in(WEEK, deliver, days=range(2))  # Cellcard numbers: Kampot's phone sends both
    kandal = provider_with_sim(Carrier.SMART, province="kandal")
    delivered_in(WEEK, deliver, to="010 345 601")  # a Smart number: Kandal's phone sends it, on-net
    _, end = week_bounds(WEEK)
    rewards_post_due(now=end + timedelta(days=5))
    assert bonuses_pay_week(period=WEEK)[BonusKind.LEADERBOARD] == 2
    paid = set(Bonus.objects.values_list("provider_id", "group", "rank", "amount"))
    # Each is first in its own province (Kandal's one segment against Kampot's two does not matter).
    assert paid == {(kampot.pk, "kampot", 1, 5_000_000), (kandal.pk, "kandal", 1, 5_000_000)}
    assert bonuses_pay_week(period=WEEK)[BonusKind.LEADERBOARD] == 0  # the week again: nothing twice
    assert Bonus.objects.count() == 2 and Transfer.objects.filter(id__startswith="bonus:leaderboard:").count() == 2


def test_the_leaderboard_leaves_out_providers_below_its_minimum_score(established, deliver):
    BonusRule.objects.create(kind=BonusKind.LEADERBOARD, amounts=[5_000_000, 2_000_000], min_score=500,
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    busy = provider_with_sim(Carrier.CELLCARD)
    delivered_in(WEEK, deliver, days=range(2))  # two segments: first by volume
    better = provider_with_sim(Carrier.SMART)
    delivered_in(WEEK, deliver, to="010 345 601")  # one segment
    Provider.objects.filter(pk=busy.pk).update(score=499)
    Provider.objects.filter(pk=better.pk).update(score=500)
    _, end = week_bounds(WEEK)
    rewards_post_due(now=end + timedelta(days=5))
    assert bonuses_pay_week(period=WEEK)[BonusKind.LEADERBOARD] == 1
    assert list(Bonus.objects.values_list("provider_id", "rank", "amount")) == [(better.pk, 1, 5_000_000)]


def test_a_streak_of_seven_days_pays_once(established, provider, deliver):
    BonusRule.objects.create(kind=BonusKind.STREAK, amounts=[1_000_000], valid_from=timezone.now() - timedelta(days=60))
    delivered_in(WEEK, deliver, days=range(6))
    _, end = week_bounds(WEEK)
    rewards_post_due(now=end + timedelta(days=5))
    assert bonuses_pay_week(period=WEEK)[BonusKind.STREAK] == 0  # six days
    delivered_in(WEEK, deliver, days=range(6, 7))
    rewards_post_due(now=end + timedelta(days=5))
    assert bonuses_pay_week(period=WEEK)[BonusKind.STREAK] == 1
    assert bonuses_pay_week(period=WEEK)[BonusKind.STREAK] == 0


def test_uptime_bonus(provider):
    BonusRule.objects.create(kind=BonusKind.UPTIME, amounts=[700_000], min_uptime_bp=9_000,
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    idle = provider_with_sim(Carrier.SMART)
    start, _ = week_bounds(WEEK)
    for who in (provider, idle):
        who.created_at = start - timedelta(days=30)
        who.save(update_fields=["created_at"])
    AvailabilityChange.objects.create(provider=provider, previous=Availability.OFFLINE,
                                      availability=Availability.ONLINE, reason="provider",
                                      created_at=start - timedelta(hours=1))  # fmt: skip
    assert bonuses_pay_week(period=WEEK)[BonusKind.UPTIME] == 1
    assert list(Bonus.objects.values_list("provider_id", flat=True)) == [provider.pk]


def test_the_app_shows_this_weeks_board_without_naming_others(established, provider, deliver, api_client_for):
    BonusRule.objects.create(kind=BonusKind.LEADERBOARD, amounts=[5_000_000], scope="carrier",
                             valid_from=timezone.now() - timedelta(days=60))  # fmt: skip
    deliver()
    phone = api_client_for(provider.user)
    response = phone.get("/api/incentives/leaderboard")
    body = response.json()
    assert (body["week"], body["scope"], body["group"]) == (week_label(timezone.now()), "carrier", "cellcard")
    assert body["me"] == {"rank": 1, "segments": 1, "score": 0, "you": True} and body["top"] == [body["me"]]
    assert phone.get("/api/incentives/leaderboard", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    other = api_client_for(provider_with_sim(Carrier.SMART).user).get("/api/incentives/leaderboard").json()
    assert (other["group"], other["me"], other["top"]) == ("smart", None, [])
