"""What a client used and what moved on its account: daily usage and monthly statements, read from the ledger (message
charges, top-ups, adjustments) and from messaging (messages by status), aggregated in the database.

Days and months are Phnom Penh's. A statement reconciles by construction and is checked by its tests: the opening
posted balance plus the month's posted movements is the closing posted balance, each read from the ledger.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.utils import timezone

from apps.messaging.selectors import message_counts_by_day
from apps.payments.errors import DateInvalid, DateRangeInvalid, DateRangeTooLong, MonthInvalid
from apps.payments.receipts import BILLING_TZ
from apps.tokens.choices import LEDGER_IDS, LedgerCode, Reason
from apps.tokens.models import Account
from apps.tokens.selectors import account_balance_before, account_movements, charges_by_day

MONTH_PATTERN = re.compile(r"^(\d{4})-(\d{2})$")


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=BILLING_TZ)


def _client_account(organization_id: int) -> Account | None:
    return Account.objects.filter(organization_id=organization_id, ledger_id=LEDGER_IDS[LedgerCode.PPT]).first()


# --- usage --------------------------------------------------------------------------------------------------------


def usage_range_parse(*, start: str | None, end: str | None, today: date | None = None) -> tuple[date, date]:
    """`from` and `to` (YYYY-MM-DD, both included; default: the last 30 days to today), checked."""
    today = today or timezone.now().astimezone(BILLING_TZ).date()
    try:
        last = date.fromisoformat(end) if end else today
        first = date.fromisoformat(start) if start else last - timedelta(days=29)
    except (TypeError, ValueError):
        raise DateInvalid(details={"format": "YYYY-MM-DD"}) from None
    if first > last:
        raise DateRangeInvalid()
    if (last - first).days + 1 > settings.BILLING_USAGE_MAX_DAYS:
        raise DateRangeTooLong(details={"max_days": settings.BILLING_USAGE_MAX_DAYS})
    return first, last


def usage_report(*, organization_id: int, first: date, last: date) -> dict:
    """Per day from `first` to `last`: messages and segments by status, and PPT held / captured / released."""
    since, until = _start_of(first), _start_of(last + timedelta(days=1))
    account = _client_account(organization_id)
    charges = (
        charges_by_day(account_id=account.pk, since=since, until=until, tz=BILLING_TZ) if account is not None else {}
    )
    messages: dict[date, list[dict]] = {}
    for row in message_counts_by_day(organization_id=organization_id, since=since, until=until, tz=BILLING_TZ):
        messages.setdefault(row["day"], []).append(row)
    days = []
    totals = {"messages": 0, "segments": 0, "held": 0, "captured": 0, "released": 0}
    for offset in range((last - first).days + 1):
        day = first + timedelta(days=offset)
        rows = messages.get(day, [])
        ppt = charges.get(day, {"held": 0, "captured": 0, "released": 0})
        entry = {
            "date": day.isoformat(),
            "messages": sum(row["messages"] for row in rows),
            "segments": sum(row["segments"] or 0 for row in rows),
            "by_status": {
                row["status"]: {"messages": row["messages"], "segments": row["segments"] or 0} for row in rows
            },
            "ppt": dict(ppt),
        }
        for key in ("messages", "segments"):
            totals[key] += entry[key]
        for key in ("held", "captured", "released"):
            totals[key] += ppt[key]
        days.append(entry)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timezone": "Asia/Phnom_Penh",
        "days": days,
        "totals": {
            "messages": totals["messages"],
            "segments": totals["segments"],
            "ppt": {key: totals[key] for key in ("held", "captured", "released")},
        },
    }


# --- statements -----------------------------------------------------------------------------------------------------


@dataclass
class Statement:
    """A month of a client's PPT account, posted amounts in 10⁻⁶ PPT. `opening + top_ups - charges_captured +
    adjustments + other == closing`; holds are shown beside (a hold moves no posted money until it is captured)."""

    organization_id: int
    month: str
    since: datetime
    until: datetime
    opening: int = 0
    top_ups: int = 0
    charges_captured: int = 0
    adjustments: int = 0
    other: int = 0
    closing: int = 0
    holds_placed: int = 0
    holds_released: int = 0
    holds_open_at_close: int = 0

    @property
    def reconciles(self) -> bool:
        return self.opening + self.top_ups - self.charges_captured + self.adjustments + self.other == self.closing


def statement_month_parse(month: str, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """`YYYY-MM` → the month's first instant and the next month's, Phnom Penh time; not after the current month."""
    match = MONTH_PATTERN.match(month or "")
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 2000:
        raise MonthInvalid()
    year, number = int(match[1]), int(match[2])
    since = _start_of(date(year, number, 1))
    until = _start_of(date(year + number // 12, number % 12 + 1, 1))
    if since > (now or timezone.now()):
        raise MonthInvalid()
    return since, until


def statement_build(*, organization_id: int, month: str, now: datetime | None = None) -> Statement:
    since, until = statement_month_parse(month, now=now)
    statement = Statement(organization_id=organization_id, month=month, since=since, until=until)
    account = _client_account(organization_id)
    if account is None:
        return statement
    opening, closing = account_balance_before(account, since), account_balance_before(account, until)
    statement.opening = opening.credits_posted - opening.debits_posted
    statement.closing = closing.credits_posted - closing.debits_posted
    statement.holds_open_at_close = closing.debits_pending
    movements = account_movements(account, since=since, until=until)
    net = {reason: amounts["in"] - amounts["out"] for reason, amounts in movements.items()}
    statement.top_ups = net.pop(Reason.TOP_UP, 0)
    statement.charges_captured = -net.pop(Reason.CHARGE, 0)
    statement.adjustments = net.pop(Reason.ADJUSTMENT, 0)
    statement.other = sum(net.values())
    charges = charges_by_day(account_id=account.pk, since=since, until=until, tz=BILLING_TZ).values()
    statement.holds_placed = sum(day["held"] for day in charges)
    statement.holds_released = sum(day["released"] for day in charges)
    return statement
