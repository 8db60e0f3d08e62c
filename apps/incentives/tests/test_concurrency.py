"""Money paths under real parallel transactions (PostgreSQL): concurrent sends against a balance, and a hold's
settlement racing between a delivery report and a cancel."""

import itertools

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.accounts.services import api_key_create
from apps.incentives.tests.conftest import CROSS, fund, spendable
from apps.messaging.choices import MessageStatus
from apps.messaging.errors import IllegalTransition, MessageNotCancellable
from apps.messaging.models import Message
from apps.messaging.services import message_cancel
from apps.messaging.state import message_transition
from apps.messaging.tests.test_concurrency import run_together
from apps.tokens.models import Transfer
from apps.tokens.reconciliation import ledger_check

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL"),
]


def numbered(work):
    """`work(position)` for `run_together`, which calls its work without arguments: each thread its own number."""
    positions = itertools.count()
    return lambda: work(next(positions))


def test_eight_concurrent_sends_against_a_balance_for_five(organization, prices):
    fund(organization, 5 * CROSS)
    _, secret = api_key_create(organization=organization, actor=None, name="server")

    def post(position: int) -> int:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
        return client.post(
            "/api/messages/send", {"to": "012 345 678", "body": f"hi {position}"}, format="json"
        ).status_code

    statuses = run_together(numbered(post))
    assert sorted(statuses) == [202] * 5 + [402] * 3
    assert Message.objects.count() == 5
    assert Transfer.objects.filter(reason="charge", kind="pending").count() == 5
    assert spendable(organization) == 0
    assert ledger_check().breaks == 0


@pytest.mark.parametrize("report", [MessageStatus.DELIVERED, MessageStatus.FAILED])
def test_a_report_racing_a_cancel_settles_the_hold_once(organization, prices, report):
    from apps.messaging.services import MessageInput, message_submit

    fund(organization, 10 * CROSS)
    for _ in range(3):
        message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body="x"))
        Message.objects.filter(pk=message.pk).update(status=MessageStatus.ASSIGNED)

        def act(position: int, message_id: int = message.pk) -> str:
            from django.db import transaction

            with transaction.atomic():
                message = Message.objects.get(pk=message_id)
                if position % 2:
                    try:
                        message_cancel(message=message)
                    except MessageNotCancellable:
                        return "too late"
                    return "cancelled"
                try:
                    moved = message_transition(message=message, to=report, reason="test", cross_carrier=False)
                except IllegalTransition:
                    return "lost"  # read after the cancel committed: cancelled is final (a report checks this first)
                return report if moved else "lost"

        results = run_together(numbered(act))
        message.refresh_from_db()
        assert message.status in (MessageStatus.CANCELLED, report)
        hold = f"charge:message:{message.pk}"
        assert Transfer.objects.filter(pending_id=hold).count() == 1, results
        expected = MessageStatus.DELIVERED == message.status
        assert Transfer.objects.filter(id=f"{hold}:post").exists() is expected
    assert ledger_check().breaks == 0


def test_a_single_held_send_stores_its_row_and_hold_in_one_statement_or_neither(organization, prices):
    from django.test.utils import CaptureQueriesContext

    from apps.messaging.errors import InsufficientBalance
    from apps.messaging.services import MessageInput, message_submit
    from apps.tokens.choices import PlatformAccount
    from apps.tokens.services import platform_account

    fund(organization, CROSS)  # one message's hold
    platform_account(PlatformAccount.REVENUE)  # opened once in a real database, not by the send measured here
    with CaptureQueriesContext(connection) as queries:
        message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body="x"))
    writes = [query["sql"] for query in queries.captured_queries if "INSERT INTO" in query["sql"]]
    stored = [sql for sql in writes if '"messaging_message"' in sql]
    assert len(stored) == 1 and "tokens_transfer" in stored[0]  # the row and its hold together
    assert not any(query["sql"] in ("BEGIN", "COMMIT") for query in queries.captured_queries)
    hold = Transfer.objects.get(id=f"charge:message:{message.pk}")
    assert (hold.message_id, hold.amount, hold.kind) == (message.pk, CROSS, "pending")
    assert Message.objects.get(pk=message.pk).to == "+85512345678"  # encrypted, blind-indexed, read back

    with pytest.raises(InsufficientBalance) as refused:
        message_submit(organization=organization, api_key=None, data=MessageInput(to="012345678", body="y"))
    assert refused.value.details["shortfall"] == CROSS
    assert Message.objects.count() == 1  # nothing stored for the refused one
    assert Transfer.objects.filter(reason="charge").count() == 1
    assert spendable(organization) == 0
    assert ledger_check().breaks == 0


def test_a_single_held_send_statement_credits_only_a_hot_account_and_stores_nothing_otherwise(organization, prices):
    """The statement's last column (the credit account is hot) is read only when the hold is refused: a booked hold
    says yes without looking again; a credit account that is not hot refuses the hold, and the row with it."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.messaging.charging import HOLD_PREFIX
    from apps.messaging.inserting import message_held_row, message_unsaved
    from apps.tokens.choices import PlatformAccount, Reason
    from apps.tokens.services import client_hold_create_with_row, platform_account

    fund(organization, 2 * CROSS)

    def hold(credit_account_id: int):
        message = message_unsaved(
            organization=organization,
            to="+85512345678",
            body="x",
            carrier="cellcard",
            segments=1,
            price_held=CROSS,
            expires_at=timezone.now() + timedelta(hours=1),
        )
        return client_hold_create_with_row(
            row=message_held_row(message, id_prefix=HOLD_PREFIX),
            organization_id=organization.pk,
            amount=CROSS,
            credit_account_id=credit_account_id,
            reason=Reason.CHARGE,
        )

    with pytest.raises(ValueError, match="hot"):
        hold(platform_account(PlatformAccount.ADJUSTMENTS).pk)  # a platform account, but not a hot one
    assert not Message.objects.exists()
    assert not Transfer.objects.filter(reason="charge").exists()
    assert spendable(organization) == 2 * CROSS

    row_id, booked = hold(platform_account(PlatformAccount.REVENUE).pk)
    assert booked.booked and booked.spendable_after == CROSS
    assert Transfer.objects.get(id=f"{HOLD_PREFIX}{row_id}").message_id == row_id
    assert Message.objects.get(pk=row_id).price_held == CROSS
    assert ledger_check().breaks == 0
