"""Manual adjustments to the ledger, maker–checker: one staff member proposes, another approves; both audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.core.errors import ValidationFailed
from apps.tokens.choices import (
    AdjustmentStatus,
    PlatformAccount,
    Reason,
)
from apps.tokens.errors import AdjustmentNotPending, FourEyesRequired
from apps.tokens.models import Account, Adjustment
from apps.tokens.services.accounts import platform_account
from apps.tokens.services.transfers import MAX_AMOUNT, TransferSpec, transfer_create


def adjustment_propose(*, actor: Any, account: Account, amount: int, memo: str) -> Adjustment:
    """A staff member proposes a correction (positive: credit the account); nothing is booked until another staff
    member approves it. Audited."""
    if type(amount) is not int or amount == 0 or abs(amount) > MAX_AMOUNT:
        raise ValidationFailed(details={"amount": "a non-zero integer in the smallest unit"})
    if not memo.strip():
        raise ValidationFailed(details={"memo": "say why"})
    with transaction.atomic():
        adjustment = Adjustment.objects.create(account=account, amount=amount, memo=memo.strip(), proposed_by=actor)
        audit_record(
            actor=actor, action="tokens.adjustment_propose", target=adjustment, after=_adjustment_data(adjustment)
        )
    return adjustment


def adjustment_approve(*, actor: Any, adjustment_id: int, now: datetime | None = None) -> Adjustment:
    """A second staff member approves: the transfer `adjustment:<id>` is booked against the ledger's `adjustments`
    platform account, and the decision audited, in one transaction. Refused for the proposer (four eyes) and for
    a decided adjustment; a transfer refused (the account would go below zero) leaves it proposed."""
    return _adjustment_decide(actor=actor, adjustment_id=adjustment_id, approve=True, now=now)


def adjustment_reject(*, actor: Any, adjustment_id: int, now: datetime | None = None) -> Adjustment:
    """A second staff member rejects the proposal; nothing is booked. Audited."""
    return _adjustment_decide(actor=actor, adjustment_id=adjustment_id, approve=False, now=now)


def _adjustment_decide(*, actor: Any, adjustment_id: int, approve: bool, now: datetime | None) -> Adjustment:
    now = now or timezone.now()
    with transaction.atomic():
        adjustment = Adjustment.objects.select_for_update().select_related("account__ledger").get(pk=adjustment_id)
        if adjustment.status != AdjustmentStatus.PROPOSED:
            raise AdjustmentNotPending(details={"status": adjustment.status})
        if actor is None or actor.pk == adjustment.proposed_by_id:
            raise FourEyesRequired()
        if approve:
            account = adjustment.account
            counter = platform_account(PlatformAccount.ADJUSTMENTS, ledger=account.ledger.code)
            debit, credit = (counter, account) if adjustment.amount > 0 else (account, counter)
            transfer_id = f"adjustment:{adjustment.pk}"
            transfer_create(
                TransferSpec(
                    id=transfer_id,
                    amount=abs(adjustment.amount),
                    debit_account_id=debit.pk,
                    credit_account_id=credit.pk,
                    ledger=account.ledger.code,
                    reason=Reason.ADJUSTMENT,
                    memo=adjustment.memo,
                ),
                now=now,
            )
            adjustment.transfer_id = transfer_id
        adjustment.status = AdjustmentStatus.APPROVED if approve else AdjustmentStatus.REJECTED
        adjustment.decided_by, adjustment.decided_at = actor, now
        adjustment.save(update_fields=["status", "decided_by", "decided_at", "transfer_id"])
        action = "tokens.adjustment_approve" if approve else "tokens.adjustment_reject"
        audit_record(actor=actor, action=action, target=adjustment, after=_adjustment_data(adjustment))
    return adjustment


def _adjustment_data(adjustment: Adjustment) -> dict:
    return {
        "account": adjustment.account_id,
        "amount": adjustment.amount,
        "memo": adjustment.memo,
        "status": adjustment.status,
        "transfer_id": adjustment.transfer_id,
    }
