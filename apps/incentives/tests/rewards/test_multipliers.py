"""Route multipliers: demand over supply, bounded by the staff's floor and ceiling, smoothed with hysteresis, kept as
history, cached for the cheap read prices and rewards make; a delivery's reward carries its route's multiplier."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.incentives.models import Reward, RouteMultiplier, SurgeBounds
from apps.incentives.multipliers import route_multipliers_recompute
from apps.incentives.surge import route_multiplier_bp
from apps.messaging.services import MessageInput, message_submit
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


def queue(count: int) -> None:
    organization = client_create(user=UserFactory(), name="Busy")
    for index in range(count):
        message_submit(organization=organization, api_key=None, data=MessageInput(to=f"012 345 {index:03}", body="Hi"))


def test_neutral_without_a_reading_and_cached():
    assert route_multiplier_bp(carrier=Carrier.CELLCARD, route="on_net") == 10_000
    with CaptureQueriesContext(connection) as queries:
        assert route_multiplier_bp(carrier=Carrier.CELLCARD, route="on_net") == 10_000
    assert len(queries) == 0


def test_demand_above_supply_raises_the_multiplier_smoothly_within_the_ceiling(settings):
    settings.PROVIDER_SIM_HOURLY_CAP = 10
    provider_with_sim(Carrier.CELLCARD)  # online: 10 segments an hour on Cellcard
    SurgeBounds.objects.create(carrier=Carrier.CELLCARD, route="on_net", floor_bp=10_000, ceiling_bp=15_000)
    queue(40)  # 40 waiting segments against 5 (half an hour): far above target, so the raw reading hits the ceiling
    now = timezone.now()
    seen = []
    for minute in range(15):
        route_multipliers_recompute(now=now + timedelta(minutes=minute))
        seen.append(route_multiplier_bp(carrier=Carrier.CELLCARD, route="on_net"))
    assert seen == sorted(seen) and seen[0] < 15_000 and seen[-1] == 15_000
    assert all(value % 500 == 0 for value in seen)  # whole steps only
    readings = RouteMultiplier.objects.filter(carrier=Carrier.CELLCARD, route="on_net")
    assert readings.first().raw_bp == 15_000 and readings.count() >= 2
    # Metfone has neither demand nor SIMs: it stays at the floor.
    assert route_multiplier_bp(carrier=Carrier.METFONE, route="on_net") == 10_000


def test_hysteresis_keeps_the_multiplier_while_the_average_moves_less_than_a_step(settings):
    settings.INCENTIVES_SURGE_STEP_BP = 2_000
    provider_with_sim(Carrier.CELLCARD)
    queue(20)  # 20 segments against 15 (half of 30): raw 13_333
    route_multipliers_recompute()
    # The average moved 999 (30 % of the way to 13_333) from 10_000: less than 3/4 of the step, so ×1 stays.
    assert route_multiplier_bp(carrier=Carrier.CELLCARD, route="on_net") == 10_000
    assert RouteMultiplier.objects.get(carrier=Carrier.CELLCARD, route="on_net").smoothed_bp == 10_999


def test_a_reward_carries_its_routes_multiplier(established, provider, deliver):
    RouteMultiplier.objects.create(carrier=Carrier.CELLCARD, route="on_net", demand_segments=1, supply_segments=1,
                                   raw_bp=12_500, smoothed_bp=12_500, multiplier_bp=12_500)  # fmt: skip
    cache.clear()
    reward = Reward.objects.get(job=deliver())
    assert (reward.surge_bp, reward.amount) == (12_500, 50_000)


def test_a_supply_beyond_a_32_bit_count_is_stored_clamped(settings):
    # The simulator runs its SIMs with near-unlimited caps: the reading must still be stored, every minute.
    settings.PROVIDER_SIM_HOURLY_CAP = 2**31
    provider_with_sim(Carrier.CELLCARD)
    provider_with_sim(Carrier.CELLCARD)
    route_multipliers_recompute()
    reading = RouteMultiplier.objects.get(carrier=Carrier.CELLCARD, route="on_net")
    assert reading.supply_segments == 2**31 - 1
    assert reading.multiplier_bp == 10_000
