"""Test data for providers. Providers built here are active, online and freshly heard from unless told otherwise;
SIMs are past their warm-up unless `created_at` says otherwise."""

from datetime import datetime, timedelta

import factory
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.providers.choices import Availability, Carrier, Platform, ProviderStatus
from apps.providers.models import Device, Provider, Sim, SimCounter
from apps.providers.services.availability import sync_matchable
from apps.providers.services.matching import Assignment

# A valid mobile number range of each carrier (phonenumbers' data agrees with these).
NUMBER_FORMATS = {
    Carrier.SMART: "+85510{:06d}",
    Carrier.METFONE: "+85597{:07d}",
    Carrier.CELLCARD: "+85577{:06d}",
    Carrier.SEATEL: "+85518{:07d}",
}


class ProviderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Provider

    user = factory.SubFactory(UserFactory)
    status = ProviderStatus.ACTIVE
    availability = Availability.ONLINE
    chosen_availability = factory.SelfAttribute("availability")
    last_heartbeat_at = factory.LazyFunction(timezone.now)


class SimFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sim
        skip_postgeneration_save = True

    provider = factory.SubFactory(ProviderFactory)
    carrier = Carrier.SMART
    carrier_detected = factory.SelfAttribute("carrier")
    msisdn = factory.LazyAttributeSequence(lambda sim, n: NUMBER_FORMATS[sim.carrier].format(200_000 + n))
    slot = factory.LazyAttribute(lambda sim: sim.provider.sims.filter(active=True).count())
    created_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=60))

    @factory.post_generation
    def counter_and_matchable(sim: Sim, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            SimCounter.objects.create(sim=sim)
            sync_matchable(sim.provider)
            sim.refresh_from_db()


class DeviceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Device

    provider = factory.SubFactory(ProviderFactory)
    fcm_token = factory.Sequence(lambda n: f"fcm-token-{n:06d}-" + "x" * 140)
    platform = Platform.ANDROID
    app_version = "1.0.0"


def provider_with_sim(carrier: str = Carrier.SMART, **provider_fields: object) -> Provider:
    """A provider with one SIM on `carrier` and a registered phone."""
    provider = ProviderFactory(**provider_fields)
    SimFactory(provider=provider, carrier=carrier)
    DeviceFactory(provider=provider)
    return provider


def match_one(
    *, now: datetime | None = None, skip_locked_providers: bool = False, **request: object
) -> Assignment | None:
    """One message matched as dispatch matches it (a batch of one): `request` holds `MatchRequest`'s fields."""
    from apps.providers.services import MatchRequest, providers_match_batch

    if "exclude_provider_ids" in request:
        request["exclude_provider_ids"] = frozenset(request["exclude_provider_ids"])
    batch = providers_match_batch([MatchRequest(**request)], now=now, skip_locked_providers=skip_locked_providers)
    return batch.assignments[0]


def use_up_with_a_stale_hint(provider: Provider) -> Sim:
    """With an hourly cap of 1 and a pool of 1: give the provider's SIM its one unit this hour (a sent job), then
    clear the hint that says so and put it first in turn, so matching tries it first and its counter refuses it."""
    from apps.providers.services import capacity_release

    sim = provider.sims.get()
    early = timezone.now() - timedelta(hours=1)
    Sim.objects.filter(pk=sim.pk).update(next_turn_at=early)
    used = match_one(recipient_carrier=sim.carrier)
    assert used.sim_id == sim.pk
    capacity_release(provider_id=provider.pk, sim_id=sim.pk, reserved_at=used.reserved_at, sms_sent=True)
    Sim.objects.filter(pk=sim.pk).update(capped_until=None, next_turn_at=early)
    return sim
