"""The ledger's periodic tasks: registered under the names beat uses, and each safe to run twice."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.tokens import tasks
from apps.tokens.models import LedgerCheck, Transfer
from apps.tokens.services import TransferSpec, transfers_create
from apps.tokens.tests.conftest import fund

pytestmark = pytest.mark.django_db


def test_beat_runs_the_ledger_tasks_by_their_registered_names():
    from peerpower.celery import app

    names = {entry["task"] for key, entry in settings.CELERY_BEAT_SCHEDULE.items() if key.startswith("tokens.")}
    assert names == {"tokens.expire_pending", "tokens.roll_up_hot_balances", "tokens.ledger_check"}
    assert names <= set(app.tasks)


def test_timed_out_holds_are_released_once(client_account, revenue):
    fund(client_account, 100)
    hold = TransferSpec(id="hold:1", amount=60, debit_account_id=client_account.pk, credit_account_id=revenue.pk,
                        pending=True, timeout_seconds=30)  # fmt: skip
    transfers_create([hold], now=timezone.now() - timedelta(minutes=5))
    assert tasks.expire_pending() == 1
    assert tasks.expire_pending() == 0
    assert Transfer.objects.get(id="hold:1").status == "expired"
    tasks.roll_up_hot_balances()
    assert tasks.run_ledger_check() == 0
    assert LedgerCheck.objects.get().breaks == 0
