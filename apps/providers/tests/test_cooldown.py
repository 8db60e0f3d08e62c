"""Carrier-block reactions: cool-downs that grow with repetition, lowered caps, the carrier-wide gauge, pacing."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.providers.choices import Carrier
from apps.providers.metrics import ProviderCapacityCollector
from apps.providers.models import Provider, Sim
from apps.providers.services.caps import caps_for_sim
from apps.providers.services.cooldown import sim_send_failed
from apps.providers.tests.factories import match_one, provider_with_sim

pytestmark = pytest.mark.django_db

COOLDOWN = {"PROVIDER_SIM_COOLDOWN_BASE_SECONDS": 600, "PROVIDER_SIM_COOLDOWN_MAX_SECONDS": 3000}


def the_sim(carrier=Carrier.SMART):
    return provider_with_sim(carrier).sims.get()


def match_at(moment):
    Provider.objects.update(last_heartbeat_at=moment)  # the phone is heard from at that moment, as it would be
    return match_one(recipient_carrier=Carrier.SMART, now=moment)


@override_settings(**COOLDOWN)
@pytest.mark.parametrize("error_code", ["limit_exceeded", "network_reject"])
def test_a_carrier_block_cools_the_sim_down_and_matching_passes_it_over(error_code):
    sim = the_sim()
    now = timezone.now()
    assert sim_send_failed(sim_id=sim.pk, error_code=error_code, now=now) is not None
    sim.refresh_from_db()
    assert (sim.cooldown_level, sim.cooldown_until) == (1, now + timedelta(seconds=600))
    assert match_at(now + timedelta(seconds=599)) is None
    assert match_at(now + timedelta(seconds=601)) is not None
    audit = AuditLog.objects.get(action="sim.cooldown_started")
    assert audit.after["reason"] == error_code and audit.actor_label == "providers:carrier_block"


@pytest.mark.parametrize("error_code", ["no_service", "radio_off", "invalid_number", "generic_failure"])
def test_other_failures_alone_do_not_cool_down(error_code):
    sim = the_sim()
    assert sim_send_failed(sim_id=sim.pk, error_code=error_code) is None
    sim.refresh_from_db()
    assert sim.cooldown_until is None and sim.cooldown_level == 0
    assert match_one(recipient_carrier=Carrier.SMART) is not None


@override_settings(PROVIDER_SIM_GENERIC_FAILURES=3, PROVIDER_SIM_GENERIC_FAILURE_WINDOW_SECONDS=900)
def test_repeated_generic_failures_cool_down_on_the_third_in_the_window():
    sim = the_sim()
    now = timezone.now()
    assert sim_send_failed(sim_id=sim.pk, error_code="generic_failure", now=now) is None
    assert sim_send_failed(sim_id=sim.pk, error_code="generic_failure", now=now) is None
    assert sim_send_failed(sim_id=sim.pk, error_code="generic_failure", now=now) is not None
    assert Sim.objects.get(pk=sim.pk).cooldown_level == 1


@override_settings(**COOLDOWN, PROVIDER_SIM_COOLDOWN_RESET_HOURS=48)
def test_the_cool_down_doubles_with_repetition_up_to_the_max_and_starts_again_after_a_quiet_spell():
    sim = the_sim()
    now = timezone.now()
    lengths = []
    for hour in range(4):
        moment = now + timedelta(hours=hour)
        cooled = sim_send_failed(sim_id=sim.pk, error_code="limit_exceeded", now=moment)
        lengths.append((cooled.cooldown_level, int((cooled.cooldown_until - moment).total_seconds())))
    assert lengths == [(1, 600), (2, 1200), (3, 2400), (4, 3000)]
    later = now + timedelta(hours=3 + 49)
    cooled = sim_send_failed(sim_id=sim.pk, error_code="network_reject", now=later)
    assert cooled.cooldown_level == 1 and cooled.cooldown_until == later + timedelta(seconds=600)


@override_settings(
    PROVIDER_SIM_WARMUP_HOURLY_CAP=10, PROVIDER_SIM_WARMUP_DAILY_CAP=60, PROVIDER_SIM_COOLDOWN_RESET_HOURS=48
)
def test_a_blocked_sim_is_capped_at_its_warm_up_caps_halved_per_level_until_the_reset():
    sim = the_sim()  # past its warm-up: 30 an hour
    now = timezone.now()
    assert caps_for_sim(sim, now=now).hourly == 30
    for level in range(1, 4):
        sim_send_failed(sim_id=sim.pk, error_code="limit_exceeded", now=now)
        sim.refresh_from_db()
        caps = caps_for_sim(sim, now=now)
        assert (caps.hourly, caps.daily, caps.warming_up) == (10 >> (level - 1), 60 >> (level - 1), True)
    assert caps_for_sim(sim, now=now + timedelta(hours=49)).hourly == 30


@override_settings(**COOLDOWN)
def test_the_gauge_counts_cooling_sims_per_carrier():
    for _ in range(3):
        sim_send_failed(sim_id=the_sim(Carrier.METFONE).pk, error_code="limit_exceeded")
    the_sim(Carrier.SMART)
    gauge = next(m for m in ProviderCapacityCollector().read() if m.name == "peerpower_sims_cooling_down")
    values = {sample.labels["carrier"]: sample.value for sample in gauge.samples}
    assert values["metfone"] == 3 and values["smart"] == 0


@override_settings(PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS=30, PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_pacing_keeps_a_sim_idle_for_its_minimum_interval():
    the_sim()
    now = timezone.now()
    assert match_one(recipient_carrier=Carrier.SMART, now=now) is not None
    assert match_one(recipient_carrier=Carrier.SMART, now=now + timedelta(seconds=29)) is None
    assert match_one(recipient_carrier=Carrier.SMART, now=now + timedelta(seconds=31)) is not None


@override_settings(PROVIDER_SIM_MIN_SECONDS_BETWEEN_SENDS=0, PROVIDER_MAX_JOBS_IN_FLIGHT=100)
def test_without_pacing_a_sim_can_send_again_at_once():
    the_sim()
    now = timezone.now()
    assert match_one(recipient_carrier=Carrier.SMART, now=now) is not None
    assert match_one(recipient_carrier=Carrier.SMART, now=now + timedelta(seconds=1)) is not None
