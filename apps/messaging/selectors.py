"""Reads of messaging data for the send path and the admin."""

from django.db.models import CharField, Value

from apps.messaging.choices import RecipientBlockReason
from apps.messaging.filtering.engine import DomainSpec, TermSpec
from apps.messaging.models import BlockedRecipient, DomainRule, FilterTerm, OptOut


def recipient_block_reason(phone: str) -> str | None:
    """Why `phone` (E.164) may not be messaged: `recipient_opted_out`, `recipient_blocked`, or None.

    One query over both lists. An opt-out wins over a block: it is the person's own request, and the code a
    client can act on (stop sending to them).
    """
    opted_out = (
        OptOut.objects.filter(phone=phone)
        .order_by()
        .values_list(Value(RecipientBlockReason.OPTED_OUT.value, output_field=CharField()))
    )
    blocked = (
        BlockedRecipient.objects.filter(phone=phone)
        .order_by()
        .values_list(Value(RecipientBlockReason.BLOCKED.value, output_field=CharField()))
    )
    reasons = {reason for (reason,) in opted_out.union(blocked, all=True)}
    for reason in (RecipientBlockReason.OPTED_OUT, RecipientBlockReason.BLOCKED):
        if reason.value in reasons:
            return reason.value
    return None


def filter_terms_active() -> list[TermSpec]:
    rows = FilterTerm.objects.filter(active=True).values_list("term", "language", "category", "weight")
    return [
        TermSpec(term=term, language=language, category=category, weight=weight)
        for term, language, category, weight in rows
    ]


def domain_rules_active() -> list[DomainSpec]:
    rows = DomainRule.objects.filter(active=True).values_list("domain", "kind", "weight", "brand")
    return [DomainSpec(domain=domain, kind=kind, weight=weight, brand=brand) for domain, kind, weight, brand in rows]
