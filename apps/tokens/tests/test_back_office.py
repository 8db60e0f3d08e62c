"""Back office: read-only accounts and transfers, balances as of a date, CSV statements, and manual adjustments
only through maker–checker (one staff member proposes, another approves; both audited)."""

from datetime import datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import User
from apps.audit.models import AuditLog
from apps.tokens.choices import Reason
from apps.tokens.errors import AdjustmentNotPending, FourEyesRequired, TransferRefused
from apps.tokens.models import Adjustment, Transfer
from apps.tokens.selectors import account_balance
from apps.tokens.services import (
    TransferSpec,
    adjustment_approve,
    adjustment_propose,
    adjustment_reject,
    transfers_create,
)
from apps.tokens.tests.conftest import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def maker(db):
    return User.objects.create_superuser("+85512000101", "pw-maker-1")


@pytest.fixture
def checker(db):
    return User.objects.create_superuser("+85512000102", "pw-checker-1")


def test_an_adjustment_is_booked_only_when_another_staff_member_approves(maker, checker, client_account):
    adjustment = adjustment_propose(actor=maker, account=client_account, amount=250, memo="refund of ticket 42")
    assert account_balance(client_account).available == 0
    with pytest.raises(FourEyesRequired):
        adjustment_approve(actor=maker, adjustment_id=adjustment.pk)
    approved = adjustment_approve(actor=checker, adjustment_id=adjustment.pk)
    assert (approved.status, approved.transfer_id, approved.decided_by) == (
        "approved",
        f"adjustment:{adjustment.pk}",
        checker,
    )
    client_account.refresh_from_db()
    assert account_balance(client_account).available == 250
    assert Transfer.objects.get(id=approved.transfer_id).reason == "adjustment"
    with pytest.raises(AdjustmentNotPending):
        adjustment_approve(actor=checker, adjustment_id=adjustment.pk)
    entries = AuditLog.objects.filter(target_type="tokens.adjustment", target_id=str(adjustment.pk))
    actions = list(entries.values_list("action", "actor"))
    assert sorted(actions) == [("tokens.adjustment_approve", checker.pk), ("tokens.adjustment_propose", maker.pk)]


def test_a_debit_adjustment_cannot_take_an_account_below_zero(maker, checker, client_account):
    fund(client_account, 100)
    adjustment = adjustment_propose(actor=maker, account=client_account, amount=-150, memo="duplicate top-up")
    with pytest.raises(TransferRefused) as refused:
        adjustment_approve(actor=checker, adjustment_id=adjustment.pk)
    assert refused.value.code == "exceeds_credits"
    adjustment.refresh_from_db()
    assert adjustment.status == "proposed"
    rejected = adjustment_reject(actor=checker, adjustment_id=adjustment.pk)
    assert (rejected.status, rejected.transfer_id) == ("rejected", "")


@pytest.mark.parametrize("amount", [0, 1.5, "10"])
def test_an_adjustment_needs_a_non_zero_integer(maker, client_account, amount):
    from apps.core.errors import ValidationFailed

    with pytest.raises(ValidationFailed):
        adjustment_propose(actor=maker, account=client_account, amount=amount, memo="x")
    assert not Adjustment.objects.exists()


def test_maker_checker_through_the_admin(client, maker, checker, client_account):
    client.force_login(maker)
    response = client.post(
        reverse("admin:tokens_adjustment_add"), {"account": client_account.pk, "amount": 70, "memo": "goodwill"}
    )
    assert response.status_code == 302, response.content
    adjustment = Adjustment.objects.get()
    assert adjustment.proposed_by == maker
    changelist = reverse("admin:tokens_adjustment_changelist")
    client.post(changelist, {"action": "approve", "_selected_action": [adjustment.pk]}, follow=True)
    adjustment.refresh_from_db()
    assert adjustment.status == "proposed"  # the maker cannot approve their own
    client.force_login(checker)
    client.post(changelist, {"action": "approve", "_selected_action": [adjustment.pk]}, follow=True)
    adjustment.refresh_from_db()
    assert adjustment.status == "approved"
    client_account.refresh_from_db()
    assert account_balance(client_account).available == 70


def test_account_page_shows_balances_as_of_a_date_and_a_csv_statement(client, maker, client_account, revenue):
    client.force_login(maker)
    day_one = timezone.make_aware(datetime(2026, 11, 2, 10, 0))
    transfers_create(
        [TransferSpec(id="top-up:payment:1", amount=5_000_000, debit_account_id=revenue.pk,
                      credit_account_id=client_account.pk, reason=Reason.TOP_UP, payment_ref="baray-1")],
        now=day_one,
    )  # fmt: skip
    transfers_create(
        [TransferSpec(id="charge:message:9", amount=1_250_000, debit_account_id=client_account.pk,
                      credit_account_id=revenue.pk, reason=Reason.CHARGE, message_id=9)],
        now=day_one + timedelta(days=2),
    )  # fmt: skip
    account_page = reverse("admin:tokens_account_change", args=[client_account.pk])
    page = client.get(account_page, {"as_of": "2026-11-03"}, HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    rows = {str(label): value for label, value in page.context["balance_as_of"]}  # labels are translated
    assert rows["available"] == "5.000000"
    assert {str(label): value for label, value in page.context["balance_now"]}["available"] == "3.750000"
    csv = client.get(
        reverse("admin:tokens_account_statement", args=[client_account.pk]),
        {"since": "2026-11-03", "until": "2026-11-30"},
    )
    assert csv["Content-Type"].startswith("text/csv")
    lines = csv.content.decode().splitlines()
    assert lines[1].split(",")[1:] == ["opening balance", "", "", "", "5.000000", ""]
    assert lines[2].split(",")[1:] == ["charge:message:9", "single", "posted", "charge", "-1.250000", "9"]
    assert lines[3].split(",")[1:] == ["closing balance", "", "", "", "3.750000", ""]
    bad = client.get(reverse("admin:tokens_account_statement", args=[client_account.pk]), {"since": "yesterday"})
    assert bad.status_code == 400


def test_transfers_are_searched_by_id_reference_and_account(client, maker, client_account, revenue):
    fund(client_account, 100)
    transfers_create(
        [TransferSpec(id="charge:message:77", amount=5, debit_account_id=client_account.pk,
                      credit_account_id=revenue.pk, reason=Reason.CHARGE, message_id=77)]
    )  # fmt: skip
    client.force_login(maker)
    url = reverse("admin:tokens_transfer_changelist")
    for term in ("charge:message:77", "77"):
        found = client.get(url, {"q": term}).context["cl"].result_list
        assert [transfer.pk for transfer in found] == ["charge:message:77"]
    assert len(client.get(url, {"q": str(client_account.pk)}).context["cl"].result_list) == 2
    accounts = client.get(reverse("admin:tokens_account_changelist"), {"q": "Acme"}).context["cl"].result_list
    assert [account.pk for account in accounts] == [client_account.pk]
