"""A strike staff clear as a false alarm: what it cost the provider is made good.

Why rewards are booked again rather than "restored": the ledger never edits a transfer (corrections are new
transfers), and a voided pending transfer stays voided. So a reward the strike voided gets a new pending transfer
for the same amount, `reward:job:<job>:restore:<id of the cleared strike>` — a strike is cleared once, so this id
applies once, and a reward voided again by a later strike and cleared again gets another one. The reward row goes
back to pending under that id with its own `due_at`: it then posts through the ordinary sweep (repaying open
clawbacks first), and a later strike voids it like any other. A clawback the strike booked stops collecting
(`cancelled`) and what it had already recovered goes back to the provider at once (`clawback:<id>:refund:<strike>`,
posted: the reward it came from had passed its window).

Only what no other strike covers is made good: a voided reward while the provider has any standing strike recorded
since it was booked (that strike would have voided it too), a clawback while another standing strike is on the
same job. Clearing that strike later makes them good then. Rewards voided before strikes were remembered on the
reward (`voided_by` empty) are left to staff's manual adjustments.

Locks: the provider's row first (a strike takes it too, `rewards.provider_lock`: the two take turns), then its
voided rewards, then its clawbacks (in id order, as the posting sweep does), then the ledger's accounts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.audit.services import audit_record
from apps.delivery.fraud import fraud_strikes_standing
from apps.incentives.choices import ClawbackStatus, RewardStatus
from apps.incentives.models import Clawback, Reward
from apps.incentives.rewards import _apply, _reward_account_ids, provider_lock
from apps.providers.models import Provider
from apps.tokens.choices import Reason
from apps.tokens.services import TransferSpec


def rewards_on_strike_cleared(event: Any) -> None:
    """The subscriber to delivery's `FraudStrikeCleared` (registered in `IncentivesConfig.ready`)."""
    rewards_strike_cleared(provider_id=event.provider_id, flag_id=event.flag_id)


def restore_transfer_id(job_id: int, flag_id: int) -> str:
    return f"reward:job:{job_id}:restore:{flag_id}"


def rewards_strike_cleared(*, provider_id: int, flag_id: int, now: datetime | None = None) -> dict[str, int]:
    """Make good what cleared strikes cost the provider and no standing strike covers: voided rewards booked again
    (pending), clawbacks cancelled and what they recovered refunded. Returns how many of each. Safe to run twice:
    a reward or clawback moves once, and every ledger id applies once."""
    now = now or timezone.now()
    with transaction.atomic():
        provider_lock(provider_id)
        standing = list(fraud_strikes_standing(provider_id=provider_id).values_list("created_at", "job_id"))
        latest_standing = max((created for created, _ in standing), default=None)
        struck_jobs = {job_id for _, job_id in standing if job_id is not None}
        voided = (
            Reward.objects.select_for_update()
            .filter(provider_id=provider_id, status=RewardStatus.VOIDED, voided_by__cleared_at__isnull=False)
            .order_by("pk")
        )
        restorable = [reward for reward in voided if latest_standing is None or reward.booked_at > latest_standing]
        clawbacks = [
            clawback
            for clawback in Clawback.objects.select_for_update()
            .filter(provider_id=provider_id)
            .exclude(status=ClawbackStatus.CANCELLED)
            .select_related("reward")
            .order_by("pk")
            if clawback.reward.job_id not in struck_jobs
        ]
        if not restorable and not clawbacks:
            return {"restored": 0, "refunded": 0}
        rewards_account_id, provider_account_id = _reward_account_ids(Provider.objects.get(pk=provider_id))
        specs = [_restore(reward, flag_id, rewards_account_id, provider_account_id) for reward in restorable]
        specs += [
            spec
            for clawback in clawbacks
            if (spec := _cancel(clawback, flag_id, rewards_account_id, provider_account_id, now)) is not None
        ]
        _apply(specs)
    return {"restored": len(restorable), "refunded": len(clawbacks)}


def _restore(reward: Reward, flag_id: int, rewards_account_id: int, provider_account_id: int) -> TransferSpec:
    """Put a voided reward back to pending under a new transfer id; the transfer booking it."""
    transfer_id = restore_transfer_id(reward.job_id, flag_id)
    before = {"status": reward.status, "transfer_id": reward.transfer_id, "voided_by": reward.voided_by_id}
    # Conditional on the status read under the lock: a reward moves once.
    moved = Reward.objects.filter(pk=reward.pk, status=RewardStatus.VOIDED).update(
        status=RewardStatus.PENDING, transfer_id=transfer_id, settled_at=None, void_reason="", voided_by=None
    )
    if moved != 1:
        raise RuntimeError(f"reward {reward.pk} changed under its lock")
    audit_record(
        action="reward.restored",
        target=reward,
        before=before,
        after={"status": RewardStatus.PENDING, "transfer_id": transfer_id, "amount": reward.amount},
        system_actor="incentives",
    )
    return TransferSpec(
        id=transfer_id,
        amount=reward.amount,
        debit_account_id=rewards_account_id,
        credit_account_id=provider_account_id,
        reason=Reason.REWARD,
        pending=True,
        job_id=reward.job_id,
        message_id=reward.message_id,
    )


def _cancel(
    clawback: Clawback, flag_id: int, rewards_account_id: int, provider_account_id: int, now: datetime
) -> TransferSpec | None:
    """Cancel a clawback; the refund of what it had recovered (None when it had recovered nothing)."""
    refund = clawback.recovered
    Clawback.objects.filter(pk=clawback.pk).update(
        status=ClawbackStatus.CANCELLED, cancelled_at=now, recovered=0, refunded=clawback.refunded + refund
    )
    audit_record(
        action="reward.clawback_cancelled",
        target=clawback,
        before={"status": clawback.status, "recovered": refund},
        after={"status": ClawbackStatus.CANCELLED, "refunded": refund, "cleared_strike": flag_id},
        system_actor="incentives",
    )
    if not refund:
        return None
    return TransferSpec(
        id=f"clawback:{clawback.pk}:refund:{flag_id}",
        amount=refund,
        debit_account_id=rewards_account_id,
        credit_account_id=provider_account_id,
        reason=Reason.CLAWBACK,
        job_id=clawback.reward.job_id,
    )
