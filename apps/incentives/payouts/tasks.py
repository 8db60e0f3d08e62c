"""Payout tasks (thin: ids in, a service call). Safe to run twice."""

from celery import shared_task

from apps.incentives.payouts.services import payout_send, payouts_check_pending


@shared_task(name="incentives.send_payout")
def send_payout(payout_id: int) -> str:
    """Make a payout's one outside call (a second delivery of this task finds it claimed and does nothing)."""
    return payout_send(payout_id=payout_id).status


@shared_task(name="incentives.check_pending_payouts")
def check_pending_payouts() -> int:
    """Status checks of pending payouts and of those whose sender died; how many became final."""
    return payouts_check_pending()
