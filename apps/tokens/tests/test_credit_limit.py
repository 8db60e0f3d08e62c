"""Credit limits (postpaid clients): the engine lets debits pass posted credits by the limit and no further, staff
set it through an audited service, and the reconciliation counts it in the bound."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog
from apps.tokens.choices import Reason, Result
from apps.tokens.errors import TransferRefused
from apps.tokens.reconciliation import ledger_check
from apps.tokens.services import TransferSpec, account_credit_limit_set, client_spendable_lock, transfers_create
from apps.tokens.tests.conftest import fund, next_id

pytestmark = pytest.mark.django_db


def hold(client_account, revenue, amount: int) -> str:
    spec = TransferSpec(
        id=next_id("charge"),
        amount=amount,
        debit_account_id=client_account.pk,
        credit_account_id=revenue.pk,
        reason=Reason.CHARGE,
        pending=True,
    )
    return transfers_create([spec])[0]


def test_the_engine_allows_debits_up_to_credits_plus_the_limit(client_account, revenue, issuance):
    fund(client_account, 100, issuance=issuance)
    assert hold(client_account, revenue, 101) == Result.EXCEEDS_CREDITS
    account_credit_limit_set(account=client_account, credit_limit=50, actor=UserFactory(is_staff=True))
    assert hold(client_account, revenue, 150) == Result.OK
    assert hold(client_account, revenue, 1) == Result.EXCEEDS_CREDITS
    assert client_spendable_lock(organization_id=client_account.organization_id).spendable == 0
    assert ledger_check().breaks == 0


def test_a_limit_below_what_is_spent_is_refused_and_changes_are_audited(client_account, revenue, issuance):
    staff = UserFactory(is_staff=True)
    account_credit_limit_set(account=client_account, credit_limit=80, actor=staff)
    assert hold(client_account, revenue, 60) == Result.OK
    with pytest.raises(TransferRefused) as refused:
        account_credit_limit_set(account=client_account, credit_limit=59, actor=staff)
    assert refused.value.code == Result.EXCEEDS_CREDITS
    with pytest.raises(TransferRefused):
        account_credit_limit_set(account=client_account, credit_limit=-1, actor=staff)
    client_account.refresh_from_db()
    assert client_account.credit_limit == 80
    entries = AuditLog.objects.filter(action="ledger.credit_limit_set")
    assert [(entry.before, entry.after) for entry in entries] == [({"credit_limit": 0}, {"credit_limit": 80})]


def test_only_client_accounts_take_a_limit(provider_account):
    with pytest.raises(TransferRefused):
        account_credit_limit_set(account=provider_account, credit_limit=10, actor=None)
