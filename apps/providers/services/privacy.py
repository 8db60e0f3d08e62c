"""A provider's part of a privacy erasure: its phones forgotten, its SIM numbers pseudonymised, its location gone.

The provider row itself stays (jobs, ledger accounts and payouts point at it; they are accounting records), under
its opaque id. A banned provider's phone number goes on the accounts deny-list first, as a keyed hash.
"""

from typing import Any

from django.db import transaction

from apps.accounts.services import deny_list_erased_number
from apps.accounts.services.privacy import opaque_token
from apps.audit.services import audit_record
from apps.core.crypto import blind_index
from apps.providers.choices import Availability, ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.services.availability import sync_matchable
from apps.providers.services.registry import device_remove, sim_remove


@transaction.atomic
def provider_personal_data_erase(*, provider: Provider, actor: Any) -> Provider:
    """Remove the devices, take the SIMs out of service with their numbers replaced by opaque tokens, clear the
    location and take the provider offline; audited as `provider.personal_data_erased`."""
    provider = Provider.objects.select_for_update().select_related("user").get(pk=provider.pk)
    if provider.status == ProviderStatus.BANNED:
        deny_list_erased_number(phone=provider.user.phone, actor=actor)
    for device in Device.objects.filter(provider=provider):
        device_remove(device=device, actor=actor, system_actor="privacy")
    sims = list(Sim.objects.filter(provider=provider))
    for sim in sims:
        if sim.active:
            sim_remove(sim=sim, actor=actor)
        token = opaque_token()
        # A queryset update skips the blind index's pre_save: the keyed hash of the real number goes with it.
        Sim.objects.filter(pk=sim.pk).update(msisdn=token, msisdn_hash=blind_index(token), mcc_mnc="")
    Provider.objects.filter(pk=provider.pk).update(
        availability=Availability.OFFLINE,
        chosen_availability=Availability.OFFLINE,
        province="",
        latitude=None,
        longitude=None,
    )
    provider.refresh_from_db()
    sync_matchable(provider)
    audit_record(
        actor=actor,
        action="provider.personal_data_erased",
        target=provider,
        after={"sims": len(sims), "banned": provider.status == ProviderStatus.BANNED},
        system_actor="privacy",
    )
    return provider


def provider_in_flight(provider: Provider) -> list[str]:
    """Reasons a provider's erasure must wait: jobs still leased to its SIMs (their outcome moves money).

    Takes the provider's row lock (call inside the erasure's transaction), before the parts above look for open
    payouts and holds: `payout_request` takes the same lock, so no payout can start between the check and the
    erasure.
    """
    provider = Provider.objects.select_for_update().get(pk=provider.pk)
    return ["jobs_in_flight"] if provider.jobs_in_flight > 0 else []
