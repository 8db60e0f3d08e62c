"""Reads: the exchange rate in force, the organisation a caller tops up, a client's top-ups and receipts."""

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound
from apps.payments.errors import OrganizationNotFound, ReceiptNotFound, TopUpNotFound
from apps.payments.models import ExchangeRate, Receipt, TopUp
from apps.tokens.errors import OrganizationRequired


def exchange_rate_current(*, currency: str, now: datetime) -> ExchangeRate | None:
    """The rate valid at `now`: of the rows whose period contains it, the one that started last."""
    return (
        ExchangeRate.objects.filter(currency=currency, valid_from__lte=now)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gt=now))
        .order_by("-valid_from", "-id")
        .first()
    )


def topup_organization(*, principal: Any, organization_id: int | None = None) -> Any:
    """The organisation a caller tops up: an API key's own; for a signed-in member, the one named (or their only
    one). One the caller does not belong to is as unknown as one that does not exist (404)."""
    from apps.accounts.authentication import ApiClient
    from apps.accounts.selectors import client_membership, clients_of

    if isinstance(principal, ApiClient):
        if organization_id is not None and organization_id != principal.organization.pk:
            raise OrganizationNotFound()
        return principal.organization
    if organization_id is not None:
        try:
            return client_membership(user=principal, client_id=organization_id).organization
        except NotFound:
            raise OrganizationNotFound() from None
    organizations = list(clients_of(user=principal)[:2])
    if len(organizations) > 1:
        raise OrganizationRequired()
    if not organizations:
        raise OrganizationNotFound()
    return organizations[0]


def topups_of(*, organization: Any) -> QuerySet[TopUp]:
    return TopUp.objects.filter(organization=organization).order_by("-created_at", "-id")


def topup_of(*, organization: Any, public_id: str) -> TopUp:
    topup = TopUp.objects.filter(organization=organization, public_id=public_id).first()
    if topup is None:
        raise TopUpNotFound()
    return topup


def receipts_of(*, organization: Any) -> QuerySet[Receipt]:
    return Receipt.objects.filter(organization=organization).select_related("topup").order_by("-issued_at", "-id")


def receipt_of(*, organization: Any, number: str) -> Receipt:
    receipt = receipts_of(organization=organization).filter(number=number).first()
    if receipt is None:
        raise ReceiptNotFound()
    return receipt
