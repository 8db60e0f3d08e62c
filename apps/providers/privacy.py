"""The providers app's part of a person's data export and erasure (see apps.accounts.privacy)."""

from typing import Any

from apps.accounts.privacy import AuditSubject, PrivacyPart, privacy_part
from apps.providers.models import Device, Provider, Sim


def _provider(user: Any) -> Provider | None:
    return Provider.objects.filter(user=user).first()


def _export(user: Any) -> dict[str, Any]:
    provider = _provider(user)
    if provider is None:
        return {}
    profile = Provider.objects.filter(pk=provider.pk).values(
        "id", "status", "province", "latitude", "longitude", "reputation", "jobs_delivered", "jobs_failed",
        "approved_at", "created_at",
    )[0]  # fmt: skip
    sims = Sim.objects.filter(provider=provider).values(
        "id", "msisdn", "slot", "carrier", "mcc_mnc", "verified_at", "active", "created_at", "removed_at"
    )
    devices = Device.objects.filter(provider=provider).values("id", "platform", "app_version", "created_at")
    return {"provider.json": profile, "sims.json": list(sims), "devices.json": list(devices)}


def _blockers(user: Any) -> list[str]:
    from apps.providers.services.privacy import provider_in_flight

    provider = _provider(user)
    return provider_in_flight(provider) if provider else []


def _erase(user: Any, actor: Any) -> None:
    from apps.providers.services.privacy import provider_personal_data_erase

    provider = _provider(user)
    if provider is not None:
        provider_personal_data_erase(provider=provider, actor=actor)


def _audit_subject(user: Any) -> AuditSubject:
    provider = _provider(user)
    if provider is None:
        return AuditSubject()
    sims = list(Sim.objects.filter(provider=provider).values_list("pk", "msisdn"))
    return AuditSubject(
        targets={
            Provider._meta.label_lower: [provider.pk],
            Sim._meta.label_lower: [pk for pk, _ in sims],
            Device._meta.label_lower: list(Device.objects.filter(provider=provider).values_list("pk", flat=True)),
        },
        values=[msisdn for _, msisdn in sims],
    )


def register() -> None:
    privacy_part(
        PrivacyPart(name="providers", export=_export, blockers=_blockers, erase=_erase, audit_subject=_audit_subject)
    )
