"""Payouts' part of a person's data export and erasure (see apps.accounts.privacy).

A payout still on its way (awaiting approval, queued, sending, pending) stops the erasure: the money has not
settled. On erasure the payout accounts' numbers and holders' names, and the payouts' mobile numbers, are replaced
by opaque tokens; the payouts' amounts, rates and outside ids stay (accounting records, kept 10 years).
"""

from typing import Any

from apps.accounts.privacy import AuditSubject, PrivacyPart, privacy_part
from apps.incentives.models import Payout, PayoutAccount
from apps.incentives.payouts.choices import PayoutStatus

IN_FLIGHT = (PayoutStatus.AWAITING_APPROVAL, PayoutStatus.QUEUED, PayoutStatus.SENDING, PayoutStatus.PENDING)


def _export(user: Any) -> dict[str, Any]:
    payouts = (
        Payout.objects.filter(provider__user=user)
        .order_by("id")
        .values("public_id", "method", "status", "amount", "currency", "fiat_amount", "msisdn", "created_at")
    )
    accounts = PayoutAccount.objects.filter(provider__user=user).values(
        "id", "account_number", "holder_name", "currency", "active", "created_at"
    )
    return {"payouts.json": list(payouts), "payout_accounts.json": list(accounts)}


def _blockers(user: Any) -> list[str]:
    return ["payout_in_flight"] if Payout.objects.filter(provider__user=user, status__in=IN_FLIGHT).exists() else []


def _erase(user: Any, actor: Any) -> None:
    from apps.incentives.payouts.services import payout_personal_data_erase

    payout_personal_data_erase(user=user, actor=actor)


def _audit_subject(user: Any) -> AuditSubject:
    payouts = list(Payout.objects.filter(provider__user=user).values_list("pk", "msisdn"))
    rows = PayoutAccount.objects.filter(provider__user=user).values_list("pk", "account_number", "holder_name")
    accounts = list(rows)
    return AuditSubject(
        targets={
            Payout._meta.label_lower: [pk for pk, _ in payouts],
            PayoutAccount._meta.label_lower: [pk for pk, *_ in accounts],
        },
        values=[msisdn for _, msisdn in payouts] + [value for _, *values in accounts for value in values],
    )


def register() -> None:
    privacy_part(
        PrivacyPart(name="payouts", export=_export, blockers=_blockers, erase=_erase, audit_subject=_audit_subject)
    )
