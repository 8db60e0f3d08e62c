"""A top-up as clients see it: in the API and in `payment.*` webhook events (one shape for both)."""

from typing import Any

from apps.payments.choices import FIAT_SCALES
from apps.payments.models import TopUp
from apps.tokens.choices import LEDGER_SCALES, LedgerCode
from apps.tokens.selectors import amount_decimal


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
