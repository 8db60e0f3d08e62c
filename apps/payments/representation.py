"""What clients see: a top-up (in the API and in `payment.*` webhook events, one shape for both), a receipt, a
statement."""

from datetime import datetime
from typing import Any

from apps.payments.choices import FIAT_SCALES
from apps.payments.documents import money
from apps.payments.models import Receipt, TopUp
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal

PPT = LEDGER_SCALES[LedgerCode.PPT]


def topup_output(topup: TopUp) -> dict[str, Any]:
    return {
        "id": topup.public_id,
        "organization": topup.organization_id,
        "status": topup.status,
        "method": topup.method,
        "amount": {"amount": topup.amount, "decimal": amount_decimal(topup.amount, FIAT_SCALES[topup.currency])},
        "currency": topup.currency,
        "ppt": {"amount": topup.ppt_amount, "decimal": amount_decimal(topup.ppt_amount, LEDGER_SCALES[LedgerCode.PPT])},
        "rate": {"ppt_per_unit": f"{topup.ppt_per_unit.normalize():f}", "rate_id": topup.rate_id},
        "checkout_url": topup.checkout_url,
        "khqr": topup.khqr,
        "deeplink": topup.deeplink,
        "failure_reason": topup.failure_reason,
        "created_at": topup.created_at.isoformat().replace("+00:00", "Z"),
        "expires_at": topup.expires_at.isoformat().replace("+00:00", "Z"),
        "settled_at": topup.settled_at.isoformat().replace("+00:00", "Z") if topup.settled_at else None,
    }


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def receipt_output(receipt: Receipt) -> dict[str, Any]:
    scale = FIAT_SCALES[receipt.currency]
    path = f"/api/billing/receipts/{receipt.number}"
    return {
        "number": receipt.number,
        "topup": receipt.topup.public_id,
        "organization": receipt.organization_id,
        "organization_name": receipt.organization_name,
        "amount": {"amount": receipt.amount, "decimal": amount_decimal(receipt.amount, scale)},
        "currency": receipt.currency,
        "amount_text": money(receipt.amount, receipt.currency, "km"),
        "tax": {
            "name": receipt.tax_name,
            "rate_bp": receipt.tax_rate_bp,
            "amount": {"amount": receipt.tax_amount, "decimal": amount_decimal(receipt.tax_amount, scale)},
        }
        if receipt.tax_name
        else None,
        "ppt": {"amount": receipt.ppt_amount, "decimal": amount_decimal(receipt.ppt_amount, PPT)},
        "ppt_per_unit": f"{receipt.ppt_per_unit.normalize():f}",
        "transfer_id": receipt.transfer_id,
        "issued_at": _timestamp(receipt.issued_at),
        "links": {"pdf": f"{path}.pdf", "html": f"{path}.html"},
    }


def statement_output(statement: Any) -> dict[str, Any]:
    return {
        "month": statement.month,
        "organization": statement.organization_id,
        "from": statement.since.isoformat(),
        "to": statement.until.isoformat(),
        "opening_balance": statement.opening,
        "top_ups": statement.top_ups,
        "charges_captured": statement.charges_captured,
        "adjustments": statement.adjustments,
        "other": statement.other,
        "closing_balance": statement.closing,
        "holds_placed": statement.holds_placed,
        "holds_released": statement.holds_released,
        "holds_open_at_close": statement.holds_open_at_close,
        "reconciles": statement.reconciles,
    }
