"""Deny-listing what a provider used, so a ban holds: the SIM numbers, the phone's app install, the account's number.

Removing a SIM or forgetting a device alone frees the number or the install to register again; here each value goes on
the deny-list (apps.accounts, with the reason, who and when) before it is taken out of service, so registration,
SIM add, device registration and sign-in refuse it from now on.
"""

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from apps.accounts.choices import DenyKind
from apps.accounts.services import deny_list_add
from apps.providers.choices import ProviderStatus
from apps.providers.models import Device, Provider, Sim
from apps.providers.services.registry import device_remove, provider_ban, sim_remove


@dataclass(frozen=True)
class Denied:
    sims: int = 0
    devices: int = 0
    phone: bool = False


@transaction.atomic
def provider_deny_list(
    *, provider: Provider, actor: Any, reason: str, sims: bool = False, devices: bool = False, phone: bool = False
) -> Denied:
    """List the provider's active SIM numbers (and remove the SIMs), their devices' installation ids (or tokens, from
    apps that send no id; the devices are forgotten), and/or their account's phone number (and ban them)."""
    sim_count = device_count = 0
    if sims:
        for sim in Sim.objects.filter(provider=provider, active=True):
            deny_list_add(kind=DenyKind.SIM, value=sim.msisdn, reason=reason, actor=actor)
            sim_remove(sim=sim, actor=actor)
            sim_count += 1
    if devices:
        for device in Device.objects.filter(provider=provider):
            value = device.installation_id or device.fcm_token
            deny_list_add(kind=DenyKind.DEVICE, value=value, reason=reason, actor=actor)
            device_remove(device=device, actor=actor)
            device_count += 1
    if phone:
        deny_list_add(kind=DenyKind.PHONE, value=provider.user.phone, reason=reason, actor=actor)
        if provider.status != ProviderStatus.BANNED:
            provider_ban(provider=provider, actor=actor, reason=reason)
    return Denied(sims=sim_count, devices=device_count, phone=phone)
