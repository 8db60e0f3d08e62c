"""Staff decisions on how far a provider is trusted (the admin calls these; each is audited).

What the flags mean for matching is `apps.providers.trust`.
"""

from typing import Any

from django.db import transaction

from apps.audit.services import audit_record
from apps.providers.models import TRUST_LEVEL_MAX, Provider


@transaction.atomic
def provider_trust_set(
    *, provider: Provider, actor: Any, trusted: bool | None = None, level: int | None = None
) -> bool:
    """Put a provider in or out of the trusted pool and/or set its trust level. Returns whether anything changed."""
    if level is not None and not 0 <= level <= TRUST_LEVEL_MAX:
        raise ValueError(f"trust level {level} is outside 0-{TRUST_LEVEL_MAX}")  # staff screens validate first
    locked = Provider.objects.select_for_update().get(pk=provider.pk)
    before = {"trusted": locked.trusted, "trust_level": locked.trust_level}
    if trusted is not None:
        locked.trusted = trusted
    if level is not None:
        locked.trust_level = level
    after = {"trusted": locked.trusted, "trust_level": locked.trust_level}
    if after == before:
        return False
    locked.save(update_fields=["trusted", "trust_level", "updated_at"])
    provider.trusted, provider.trust_level = locked.trusted, locked.trust_level
    audit_record(actor=actor, action="provider.trust_changed", target=locked, before=before, after=after)
    return True
