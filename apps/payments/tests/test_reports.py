"""Usage per day and monthly statements, read from the ledger's message charges (the ids the charging code uses:
`charge:message:<id>`, `…:post`, `…:void`) and from messages; a statement reconciles with the ledger."""

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader

from apps.messaging.models import Message
from apps.payments.receipts import BILLING_TZ
from apps.payments.reports import statement_build
from apps.payments.tests.conftest import key_client, notify
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.models import Account
from apps.tokens.selectors import account_balance
from apps.tokens.services import (
    TransferSpec,
    account_open,
    hot_balances_roll_up,
    platform_account,
    transfers_create,
)

PPT = 1_000_000
# 2026-11-10 23:30 in Phnom Penh is 16:30 UTC; 2026-11-11 00:30 there is 17:30 UTC the same UTC day.
LATE_ON_THE_10TH = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)
EARLY_ON_THE_11TH = datetime(2026, 11, 10, 17, 30, tzinfo=UTC)


def message(organization, *, status: str, segments: int, at: datetime) -> Message:
    return Message.objects.create(
        organization=organization,
        to="+85512345678",
        body="សួស្តី" * segments,
        encoding="ucs2",
        segments=segments,
        status=status,
        created_at=at,
        expires_at=at + timedelta(days=1),
    )


def hold(message: Message, amount: int, at: datetime) -> None:
    client = account_open(organization=message.organization)
    results = transfers_create(
        [
            TransferSpec(
                id=f"charge:message:{message.pk}",
                amount=amount,
                debit_account_id=client.pk,
                credit_account_id=platform_account(PlatformAccount.REVENUE).pk,
                reason=Reason.CHARGE,
                pending=True,
                message_id=message.pk,
            )
        ],
        now=at,
    )
    assert results == ["ok"]


def resolve(message: Message, at: datetime, *, post: int | None = None, void: bool = False) -> None:
    pending = f"charge:message:{message.pk}"
    spec = (
        TransferSpec(id=f"{pending}:void", void_pending_id=pending, reason=Reason.CHARGE)
        if void
        else TransferSpec(id=f"{pending}:post", post_pending_id=pending, amount=post, reason=Reason.CHARGE)
    )
    assert transfers_create([spec], now=at) == ["ok"]


def top_up(organization, amount: int, at: datetime) -> None:
    transfers_create(
        [
            TransferSpec(
                id=f"topup:test-{at.timestamp()}",
                amount=amount,
                debit_account_id=platform_account(PlatformAccount.ISSUANCE).pk,
                credit_account_id=account_open(organization=organization).pk,
                reason=Reason.TOP_UP,
            )
        ],
        now=at,
    )


@pytest.fixture
def november(organization):
    """A client's November: 100 PPT topped up on the 1st; on the 10th (late evening) one message delivered (2
    segments, 0.2 PPT held, all captured) and one failed (0.1 PPT held, released); on the 11th (just after
    midnight) one delivered in part (0.3 held, 0.2 captured, 0.1 released) and one still open (0.1 held)."""
    top_up(organization, 100 * PPT, datetime(2026, 11, 1, 3, tzinfo=UTC))
    delivered = message(organization, status="delivered", segments=2, at=LATE_ON_THE_10TH)
    failed = message(organization, status="failed", segments=1, at=LATE_ON_THE_10TH)
    partial = message(organization, status="delivered", segments=3, at=EARLY_ON_THE_11TH)
    waiting = message(organization, status="queued", segments=1, at=EARLY_ON_THE_11TH)
    hold(delivered, 200_000, LATE_ON_THE_10TH)
    hold(failed, 100_000, LATE_ON_THE_10TH)
    hold(partial, 300_000, EARLY_ON_THE_11TH)
    hold(waiting, 100_000, EARLY_ON_THE_11TH)
    resolve(delivered, LATE_ON_THE_10TH + timedelta(minutes=5), post=None)
    resolve(failed, LATE_ON_THE_10TH + timedelta(minutes=10), void=True)
    resolve(partial, EARLY_ON_THE_11TH + timedelta(minutes=1), post=200_000)
    return organization


def test_usage_per_phnom_penh_day(client_api, november):
    response = client_api.get("/api/billing/usage?from=2026-11-10&to=2026-11-12")
    assert response.status_code == 200
    days = {day["date"]: day for day in response.json()["days"]}
    assert list(days) == ["2026-11-10", "2026-11-11", "2026-11-12"]
    tenth, eleventh, twelfth = days.values()
    assert (tenth["messages"], tenth["segments"]) == (2, 3)
    assert tenth["by_status"] == {
        "delivered": {"messages": 1, "segments": 2},
        "failed": {"messages": 1, "segments": 1},
    }
    assert tenth["ppt"] == {"held": 300_000, "captured": 200_000, "released": 100_000}
    assert (eleventh["messages"], eleventh["segments"]) == (2, 4)
    assert eleventh["ppt"] == {"held": 400_000, "captured": 200_000, "released": 100_000}
    assert twelfth == {
        "date": "2026-11-12",
        "messages": 0,
        "segments": 0,
        "by_status": {},
        "ppt": {"held": 0, "captured": 0, "released": 0},
    }
    assert response.json()["totals"]["ppt"] == {"held": 700_000, "captured": 400_000, "released": 200_000}


def test_usage_sees_only_the_callers_organisation(november):
    from apps.accounts.services import client_create
    from apps.accounts.tests.factories import UserFactory

    stranger = key_client(client_create(user=UserFactory(), name="Other"))
    totals = stranger.get("/api/billing/usage?from=2026-11-01&to=2026-11-30").json()["totals"]
    assert totals == {"messages": 0, "segments": 0, "ppt": {"held": 0, "captured": 0, "released": 0}}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("from=2026-13-01&to=2026-12-01", "date_invalid"),
        ("from=yesterday", "date_invalid"),
        ("from=2026-11-02&to=2026-11-01", "date_range_invalid"),
        ("from=2024-01-01&to=2026-01-01", "date_range_too_long"),
    ],
)
def test_bad_usage_ranges_are_refused_with_stable_codes(client_api, query, code):
    response = client_api.get(f"/api/billing/usage?{query}")
    assert response.status_code == 400 and response.json()["code"] == code


def test_the_monthly_statement_reconciles_with_the_ledger(november):
    account = account_open(organization=november)
    statement = statement_build(organization_id=november.pk, month="2026-11")
    assert statement.opening == 0 and statement.top_ups == 100 * PPT
    assert statement.charges_captured == 400_000
    assert (statement.holds_placed, statement.holds_released, statement.holds_open_at_close) == (
        700_000,
        200_000,
        100_000,
    )
    assert statement.reconciles
    hot_balances_roll_up()
    balance = account_balance(Account.objects.get(pk=account.pk))
    assert statement.closing == balance.credits_posted - balance.debits_posted
    # December opens where November closed.
    december = statement_build(organization_id=november.pk, month="2026-12")
    assert december.opening == statement.closing and december.reconciles


def test_statement_as_json_csv_and_pdf_in_both_languages(client_api, november):
    data = client_api.get("/api/billing/statements/2026-11").json()
    assert data["closing_balance"] == 100 * PPT - 400_000 and data["reconciles"] is True
    rows = list(
        csv.DictReader(io.StringIO(client_api.get("/api/billing/statements/2026-11.csv?lang=en").content.decode()))
    )
    assert {row["line"]: int(row["amount"]) for row in rows}["closing_balance"] == 99_600_000
    khmer = client_api.get("/api/billing/statements/2026-11?format=csv", HTTP_ACCEPT_LANGUAGE="km").content.decode()
    assert "សមតុល្យចុងគ្រា" in khmer
    pdf = client_api.get("/api/billing/statements/2026-11.pdf?lang=en")
    assert pdf["Content-Type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "2026-11" in text and "99.600000 PPT" in text and "Closing balance" in text


@pytest.mark.parametrize("month", ["2026-13", "26-11", "2999-01", "november"])
def test_bad_or_future_months_are_refused(client_api, month):
    response = client_api.get(f"/api/billing/statements/{month}")
    assert response.status_code == 400 and response.json()["code"] == "month_invalid"


def test_a_top_up_through_baray_shows_on_the_statement(client_api, organization, baray, rates):
    created = client_api.post("/api/billing/topups", {"amount": "10", "currency": "USD"}, format="json").json()
    baray.pay(baray.intents[0].id, notify=False)
    notify(baray.webhook_body(created["id"]))
    month = datetime.now(BILLING_TZ).strftime("%Y-%m")
    statement = statement_build(organization_id=organization.pk, month=month)
    assert statement.top_ups == 400 * PPT and statement.reconciles
