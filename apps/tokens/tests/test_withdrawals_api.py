"""POST/GET /api/wallet/withdrawals: who may withdraw where, and every refusal books nothing."""

from datetime import timedelta

import pytest
from django.utils import timezone
from web3 import Web3

from apps.accounts.tests.factories import UserFactory
from apps.providers.tests.factories import ProviderFactory
from apps.tokens.choices import PlatformAccount, SettlementState, WithdrawalState
from apps.tokens.errors import WithdrawalReferenceReused
from apps.tokens.models import SettlementBatch, Transfer, Withdrawal
from apps.tokens.selectors import account_balance
from apps.tokens.services import account_open, platform_account, withdrawal_request
from apps.tokens.tests.conftest import fund
from apps.tokens.tests.test_api import api_key_client

pytestmark = pytest.mark.django_db

PPT = 1_000_000
ADDRESS = Web3.to_checksum_address("0x" + "a7" * 20)


@pytest.fixture(autouse=True)
def limits(settings):
    settings.WITHDRAWAL_MIN_AMOUNT = 10 * PPT
    settings.WITHDRAWAL_DAILY_LIMIT = 100 * PPT


@pytest.fixture
def bound_provider(db):
    provider = ProviderFactory()
    provider.user.evm_address = ADDRESS
    provider.user.save(update_fields=["evm_address"])
    fund(account_open(provider=provider), 500 * PPT)
    return provider


def nothing_booked(provider) -> None:
    assert not Withdrawal.objects.exists()
    assert not Transfer.objects.filter(reason="withdrawal").exists()
    assert account_balance(account_open(provider=provider)).available == 500 * PPT


def test_a_provider_withdraws_to_their_bound_address_and_follows_it(api_client_for, bound_provider):
    client = api_client_for(bound_provider.user)
    response = client.post("/api/wallet/withdrawals", {"amount": 25 * PPT}, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["state"] == "requested" and body["address"] == ADDRESS and body["tx_hash"] is None
    assert body["amount"] == {"amount": 25 * PPT, "decimal": "25.000000"}
    withdrawal = Withdrawal.objects.get(public_id=body["id"])
    pending = Transfer.objects.get(pk=withdrawal.transfer_id)
    assert (pending.kind, pending.status, pending.amount) == ("pending", "pending", 25 * PPT)
    assert pending.credit_account_id == platform_account(PlatformAccount.CHAIN_TREASURY).pk
    assert account_balance(account_open(provider=bound_provider)).available == 475 * PPT

    listed = client.get("/api/wallet/withdrawals").json()
    assert [item["id"] for item in listed["results"]] == [body["id"]]
    assert client.get(f"/api/wallet/withdrawals/{body['id']}").json() == body
    # Another provider does not see it.
    stranger = api_client_for(ProviderFactory().user)
    assert stranger.get(f"/api/wallet/withdrawals/{body['id']}").json()["code"] == "withdrawal_not_found"
    assert stranger.get("/api/wallet/withdrawals").json()["results"] == []


@pytest.mark.parametrize(
    ("amount", "status", "code"),
    [
        (10 * PPT - 1, 400, "withdrawal_below_minimum"),
        (0, 400, "validation_error"),
        ("ten", 400, "validation_error"),
        (501 * PPT, 409, "withdrawal_exceeds_balance"),
        (2**63, 400, "validation_error"),
    ],
)
def test_bad_amounts_are_refused_and_nothing_is_booked(api_client_for, bound_provider, limits, amount, status, code):
    from django.conf import settings

    settings.WITHDRAWAL_DAILY_LIMIT = 10**15
    response = api_client_for(bound_provider.user).post("/api/wallet/withdrawals", {"amount": amount}, format="json")
    assert (response.status_code, response.json()["code"]) == (status, code)
    nothing_booked(bound_provider)


def test_no_bound_wallet_is_refused(api_client_for, bound_provider):
    bound_provider.user.evm_address = None
    bound_provider.user.save(update_fields=["evm_address"])
    response = api_client_for(bound_provider.user).post("/api/wallet/withdrawals", {"amount": 20 * PPT}, format="json")
    assert (response.status_code, response.json()["code"]) == (404, "wallet_not_bound")
    nothing_booked(bound_provider)


def test_the_daily_limit_counts_24_hours_of_withdrawals_that_did_not_fail(api_client_for, bound_provider, time_machine):
    client = api_client_for(bound_provider.user)
    time_machine.move_to(timezone.now())
    assert client.post("/api/wallet/withdrawals", {"amount": 60 * PPT}, format="json").status_code == 201
    response = client.post("/api/wallet/withdrawals", {"amount": 41 * PPT}, format="json")
    assert (response.status_code, response.json()["code"]) == (422, "withdrawal_daily_limit_exceeded")
    assert response.json()["details"] == {"limit": 100 * PPT, "used": 60 * PPT}
    assert Withdrawal.objects.count() == 1 and Transfer.objects.filter(reason="withdrawal").count() == 1
    assert client.post("/api/wallet/withdrawals", {"amount": 40 * PPT}, format="json").status_code == 201
    # A failed withdrawal gives its share back; a day later the window has moved on.
    failed_batch = SettlementBatch.objects.create(state=SettlementState.FAILED)  # as a reverted settlement leaves it
    Withdrawal.objects.filter(amount=40 * PPT).update(state=WithdrawalState.FAILED, batch=failed_batch)
    assert client.post("/api/wallet/withdrawals", {"amount": 40 * PPT}, format="json").status_code == 201
    time_machine.shift(timedelta(hours=24, seconds=1))
    client = api_client_for(bound_provider.user)  # a fresh session: the access token has expired
    assert client.post("/api/wallet/withdrawals", {"amount": 100 * PPT}, format="json").status_code == 201


def test_members_and_api_keys_withdraw_the_organisations_ppt(api_client_for):
    from apps.accounts.services import client_create

    owner = UserFactory(evm_address=ADDRESS)
    organization = client_create(user=owner, name="Acme")
    fund(account_open(organization=organization), 50 * PPT)
    response = api_client_for(owner).post("/api/wallet/withdrawals", {"amount": 10 * PPT}, format="json")
    assert response.status_code == 201, response.json()
    # An API key pays to the address of the member who created it.
    from apps.accounts.services import api_key_create

    _, secret = api_key_create(organization=organization, actor=owner, name="server")
    key_client = api_key_client(organization)  # created by nobody: no address to pay
    assert key_client.post("/api/wallet/withdrawals", {"amount": 10 * PPT}, format="json").json()["code"] == (
        "wallet_not_bound"
    )
    key_client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    response = key_client.post("/api/wallet/withdrawals", {"amount": 10 * PPT}, format="json")
    assert response.status_code == 201 and response.json()["address"] == ADDRESS
    assert len(key_client.get("/api/wallet/withdrawals").json()["results"]) == 2
    # A stranger with a bound address has no organisation wallet to withdraw from.
    stranger = api_client_for(UserFactory(evm_address=Web3.to_checksum_address("0x" + "b7" * 20)))
    assert stranger.post("/api/wallet/withdrawals", {"amount": 10 * PPT}, format="json").status_code == 404


def test_a_reference_books_once(bound_provider):
    first = withdrawal_request(provider=bound_provider, address=ADDRESS, amount=20 * PPT, reference="payout:po_1")
    again = withdrawal_request(provider=bound_provider, address=ADDRESS, amount=20 * PPT, reference="payout:po_1")
    assert again.pk == first.pk and Transfer.objects.filter(reason="withdrawal").count() == 1
    with pytest.raises(WithdrawalReferenceReused):
        withdrawal_request(provider=bound_provider, address=ADDRESS, amount=30 * PPT, reference="payout:po_1")
