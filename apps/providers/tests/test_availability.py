"""Heartbeats, the offline sweep (task, history, wake-up hook) and uptime."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone

from apps.audit.models import AuditLog
from apps.providers.choices import Availability, AvailabilityReason, Carrier, ProviderStatus
from apps.providers.models import AvailabilityChange, Provider, Sim
from apps.providers.selectors import provider_uptime
from apps.providers.services import provider_update, providers_sweep_offline
from apps.providers.tasks import sweep_offline
from apps.providers.tests import hooks
from apps.providers.tests.factories import DeviceFactory, ProviderFactory, SimFactory, match_one, provider_with_sim

pytestmark = pytest.mark.django_db
HEARTBEAT = "/api/providers/me/heartbeat"


def test_heartbeat_records_the_phone_state_and_answers_when_to_come_back(api_client_for):
    provider = provider_with_sim(Carrier.SMART, last_heartbeat_at=timezone.now() - timedelta(seconds=50))
    device = provider.devices.get()
    before = timezone.now()
    response = api_client_for(provider.user).post(
        HEARTBEAT,
        {"battery": 64, "charging": True, "network": "4g", "signal": 3, "sims_ready": [0], "app_version": "1.2.0"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"next": settings.PROVIDER_HEARTBEAT_INTERVAL, "jobs": 0, "availability": "online"}
    device.refresh_from_db()
    provider.refresh_from_db()
    assert (device.battery, device.charging, device.network_type, device.signal) == (64, True, "4g", 3)
    assert device.app_version == "1.2.0"
    assert device.last_heartbeat_at >= before and provider.last_heartbeat_at == device.last_heartbeat_at


@override_settings(PROVIDER_HEARTBEAT_INTERVAL=45)
def test_heartbeat_reports_the_interval_and_jobs_waiting(api_client_for):
    provider = provider_with_sim(Carrier.SMART)
    match_one(recipient_carrier=Carrier.SMART)
    match_one(recipient_carrier=Carrier.SMART)
    body = api_client_for(provider.user).post(HEARTBEAT, {}, format="json").json()
    assert (body["next"], body["jobs"]) == (45, 2)


def test_heartbeat_needs_a_registered_phone(api_client_for):
    provider = ProviderFactory()
    response = api_client_for(provider.user).post(HEARTBEAT, {"battery": 50}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "device_not_registered"


def test_heartbeat_refuses_impossible_values(api_client_for):
    provider = provider_with_sim()
    response = api_client_for(provider.user).post(HEARTBEAT, {"battery": 140, "signal": 9}, format="json")
    assert response.status_code == 400
    assert set(response.json()["details"]["fields"]) == {"battery", "signal"}


def test_a_sim_missing_from_sims_ready_gets_no_work_until_it_is_back(api_client_for):
    provider = provider_with_sim(Carrier.SMART)
    client = api_client_for(provider.user)
    client.post(HEARTBEAT, {"sims_ready": []}, format="json")
    assert Sim.objects.get().ready is False
    assert match_one(recipient_carrier=Carrier.SMART) is None
    client.post(HEARTBEAT, {"sims_ready": [0]}, format="json")
    assert match_one(recipient_carrier=Carrier.SMART) is not None


@override_settings(
    PROVIDER_HEARTBEAT_INTERVAL=60,
    PROVIDER_OFFLINE_AFTER_MISSED_HEARTBEATS=3,
    PROVIDER_WAKE_UP_HOOK="apps.providers.tests.hooks.record",
)
def test_sweep_marks_providers_offline_after_three_missed_heartbeats(django_capture_on_commit_callbacks):
    now = timezone.now()
    fresh = provider_with_sim(last_heartbeat_at=now - timedelta(seconds=170))
    stale = provider_with_sim(last_heartbeat_at=now - timedelta(seconds=181))
    busy_stale = provider_with_sim(availability=Availability.BUSY, last_heartbeat_at=now - timedelta(hours=2))
    already_offline = provider_with_sim(availability=Availability.OFFLINE, last_heartbeat_at=now - timedelta(days=3))
    hooks.WOKEN.clear()

    with django_capture_on_commit_callbacks(execute=True):
        marked = providers_sweep_offline(now=now)

    assert sorted(marked) == sorted([stale.pk, busy_stale.pk])
    states = dict(Provider.objects.values_list("pk", "availability"))
    assert states[fresh.pk] == Availability.ONLINE
    assert states[stale.pk] == states[busy_stale.pk] == states[already_offline.pk] == Availability.OFFLINE
    history = AvailabilityChange.objects.filter(reason=AvailabilityReason.MISSED_HEARTBEATS)
    assert sorted(history.values_list("provider_id", "previous")) == sorted(
        [(stale.pk, Availability.ONLINE), (busy_stale.pk, Availability.BUSY)]
    )
    assert not Sim.objects.filter(provider=stale, matchable=True).exists()
    assert hooks.WOKEN == [sorted([stale.pk, busy_stale.pk])]
    entry = AuditLog.objects.get(action="providers.marked_offline")
    assert entry.actor_label == "task:providers.sweep_offline" and entry.after["count"] == 2
    # A second sweep has nothing left to do.
    assert providers_sweep_offline(now=now) == []


@override_settings(PROVIDER_WAKE_UP_HOOK="apps.providers.tests.hooks.fail")
def test_a_failing_wake_up_hook_does_not_undo_the_sweep(django_capture_on_commit_callbacks):
    stale = provider_with_sim(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_offline() == 1  # the task, with its lock
    stale.refresh_from_db()
    assert stale.availability == Availability.OFFLINE


def test_the_next_heartbeat_restores_what_the_provider_chose(api_client_for):
    provider = provider_with_sim(Carrier.SMART, last_heartbeat_at=timezone.now() - timedelta(hours=1))
    providers_sweep_offline()
    assert match_one(recipient_carrier=Carrier.SMART) is None

    body = api_client_for(provider.user).post(HEARTBEAT, {}, format="json").json()

    assert body["availability"] == "online"
    assert match_one(recipient_carrier=Carrier.SMART) is not None
    reasons = list(AvailabilityChange.objects.order_by("id").values_list("reason", "availability"))
    assert reasons == [
        (AvailabilityReason.MISSED_HEARTBEATS, Availability.OFFLINE),
        (AvailabilityReason.HEARTBEAT, Availability.ONLINE),
    ]


def test_a_heartbeat_does_not_bring_online_a_provider_who_chose_offline(api_client_for):
    provider = provider_with_sim(Carrier.SMART)
    provider_update(provider=provider, actor=provider.user, availability=Availability.OFFLINE)
    body = api_client_for(provider.user).post(HEARTBEAT, {}, format="json").json()
    assert body["availability"] == "offline"


def test_a_heartbeat_does_not_bring_back_a_suspended_provider(api_client_for):
    provider = provider_with_sim(Carrier.SMART, last_heartbeat_at=timezone.now() - timedelta(hours=1))
    providers_sweep_offline()
    Provider.objects.filter(pk=provider.pk).update(status=ProviderStatus.SUSPENDED)
    body = api_client_for(provider.user).post(HEARTBEAT, {}, format="json").json()
    assert body["availability"] == "offline"


def test_sweep_is_registered_with_beat():
    entry = settings.CELERY_BEAT_SCHEDULE["providers.sweep_offline"]
    assert entry["task"] == sweep_offline.name
    assert entry["schedule"] == settings.PROVIDER_HEARTBEAT_INTERVAL


def test_uptime_is_the_share_of_time_online():
    provider = ProviderFactory(availability=Availability.OFFLINE)
    start = timezone.now() - timedelta(hours=10)

    def change(hours, previous, availability):
        AvailabilityChange.objects.create(
            provider=provider,
            previous=previous,
            availability=availability,
            reason=AvailabilityReason.PROVIDER,
            created_at=start + timedelta(hours=hours),
        )

    change(-1, Availability.OFFLINE, Availability.ONLINE)  # online before the window opens
    change(2, Availability.ONLINE, Availability.BUSY)  # 2 h online
    change(3, Availability.BUSY, Availability.ONLINE)
    change(6, Availability.ONLINE, Availability.OFFLINE)  # 3 h more
    change(8, Availability.OFFLINE, Availability.ONLINE)  # and online from 8 h to 10 h: 2 h
    uptime = provider_uptime(provider=provider, since=start, until=start + timedelta(hours=10))
    assert uptime == pytest.approx(0.7)
    assert provider_uptime(provider=provider, since=start + timedelta(hours=3), until=start + timedelta(hours=4)) == 1
    assert provider_uptime(provider=ProviderFactory(), since=start) == 0


def test_going_online_through_the_app_is_recorded_for_uptime(api_client_for):
    provider = ProviderFactory(availability=Availability.OFFLINE, last_heartbeat_at=None)
    SimFactory(provider=provider)
    DeviceFactory(provider=provider)
    response = api_client_for(provider.user).patch("/api/providers/me", {"availability": "online"}, format="json")
    assert response.status_code == 200 and response.json()["availability"] == "online"
    change = AvailabilityChange.objects.get()
    assert (change.previous, change.availability, change.reason) == ("offline", "online", "provider")
    # Going online is a sign of life: matching may use the provider at once.
    assert match_one(recipient_carrier=Carrier.SMART).provider_id == provider.pk
