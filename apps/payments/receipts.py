"""Receipts: one per paid top-up, issued in the transaction that issues its PPT, numbered per year without gaps.

The number comes from the year's `ReceiptCounter` row, locked FOR UPDATE until the settlement commits: concurrent
settlements take consecutive numbers one after another, and a settlement that rolls back gives its number back with
everything else. The year, like every billing date, is Phnom Penh's.
"""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.audit.services import audit_record
from apps.payments.models import Receipt, ReceiptCounter, TopUp

# Billing days, months and years are Cambodia's, whatever the server's time zone.
BILLING_TZ = ZoneInfo("Asia/Phnom_Penh")
BASIS_POINTS = 10_000


def tax_included(amount: int, rate_bp: int) -> int:
    """The tax inside a tax-inclusive `amount` at `rate_bp` basis points, rounded half up to the smallest unit."""
    if rate_bp <= 0:
        return 0
    return (amount * rate_bp * 2 + BASIS_POINTS + rate_bp) // (2 * (BASIS_POINTS + rate_bp))


def receipt_number(year: int, sequence: int) -> str:
    return f"{settings.RECEIPT_NUMBER_PREFIX}-{year}-{sequence:06d}"


def _next_sequence(year: int) -> int:
    # The row may not exist yet: create it if absent (a concurrent creator makes this a no-op), then lock it.
    ReceiptCounter.objects.bulk_create([ReceiptCounter(year=year)], ignore_conflicts=True)
    counter = ReceiptCounter.objects.select_for_update().get(year=year)
    counter.last += 1
    counter.save(update_fields=["last"])
    return counter.last


def receipt_issue(*, topup: TopUp, now: datetime) -> Receipt:
    """The top-up's receipt, numbered now. Call inside the settlement's transaction, with the top-up locked."""
    year = now.astimezone(BILLING_TZ).year
    sequence = _next_sequence(year)
    rate_bp = settings.RECEIPT_TAX_RATE_BP if settings.RECEIPT_TAX_NAME else 0
    receipt = Receipt.objects.create(
        number=receipt_number(year, sequence),
        year=year,
        sequence=sequence,
        topup=topup,
        organization=topup.organization,
        organization_name=topup.organization.name[:200],
        currency=topup.currency,
        amount=topup.amount,
        tax_name=settings.RECEIPT_TAX_NAME if rate_bp else "",
        tax_rate_bp=rate_bp,
        tax_amount=tax_included(topup.amount, rate_bp),
        ppt_amount=topup.ppt_amount,
        ppt_per_unit=topup.ppt_per_unit,
        transfer_id=topup.transfer_id,
        issued_at=now,
    )
    audit_record(action="payments.receipt_issue", target=receipt, after={"number": receipt.number})
    return receipt
