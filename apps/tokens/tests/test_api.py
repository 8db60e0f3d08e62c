"""GET /api/wallet and /api/wallet/transactions: owner, another of the same kind, stranger; API key and JWT."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.tests.factories import UserFactory
from apps.providers.tests.factories import ProviderFactory
from apps.tokens.choices import PlatformAccount, Reason
from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create
from apps.tokens.tests.conftest import fund

pytestmark = pytest.mark.django_db


@pytest.fixture
def rewards(db):
    return platform_account(PlatformAccount.REWARDS)


@pytest.fixture
def earning_provider(provider_account, rewards):
    """A provider with 2.5 PPT posted and 0.4 PPT pending (a reward in its verification window)."""
    transfers_create(
        [
            TransferSpec(id="reward:job:1", amount=2_500_000, debit_account_id=rewards.pk,
                         credit_account_id=provider_account.pk, reason=Reason.REWARD, message_id=11),
            TransferSpec(id="reward:job:2", amount=400_000, debit_account_id=rewards.pk,
                         credit_account_id=provider_account.pk, reason=Reason.REWARD, pending=True),
        ]
    )  # fmt: skip
    return provider_account.provider


def api_key_client(organization) -> APIClient:
    from apps.accounts.services import api_key_create

    _, secret = api_key_create(organization=organization, actor=None, name="server")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_a_provider_sees_their_balances(api_client_for, earning_provider):
    response = api_client_for(earning_provider.user).get("/api/wallet")
    assert response.status_code == 200, response.json()
    assert response.json() == {
        "ledger": "PPT",
        "scale": 6,
        "owner": "provider",
        "organization": None,
        "available": {"amount": 2_500_000, "decimal": "2.500000"},
        "pending_in": {"amount": 400_000, "decimal": "0.400000"},
        "pending_out": {"amount": 0, "decimal": "0.000000"},
    }


def test_another_provider_sees_only_their_own_and_a_stranger_has_none(api_client_for, earning_provider):
    other = api_client_for(ProviderFactory().user).get("/api/wallet").json()
    assert other["available"]["amount"] == 0
    stranger = api_client_for(UserFactory()).get("/api/wallet")
    assert (stranger.status_code, stranger.json()["code"]) == (404, "wallet_not_found")
    assert APIClient().get("/api/wallet").status_code == 401


def test_a_client_by_api_key_and_its_members_by_jwt(api_client_for, organization, client_account, revenue):
    fund(client_account, 1_000_000)
    transfers_create(
        [TransferSpec(id="charge:message:5", amount=30_000, debit_account_id=client_account.pk,
                      credit_account_id=revenue.pk, reason=Reason.CHARGE, pending=True)]
    )  # fmt: skip
    expected = {"amount": 970_000, "decimal": "0.970000"}
    by_key = api_key_client(organization).get("/api/wallet").json()
    assert (by_key["owner"], by_key["organization"], by_key["available"]) == ("client", organization.pk, expected)
    assert by_key["pending_out"]["amount"] == 30_000
    member = organization.members.get()
    assert api_client_for(member).get("/api/wallet").json()["available"] == expected
    # Another organisation's key sees its own wallet, and cannot name this one.
    from apps.accounts.services import client_create

    other = client_create(user=UserFactory(), name="Other")
    assert api_key_client(other).get("/api/wallet").json()["available"]["amount"] == 0
    refused = api_key_client(other).get(f"/api/wallet?organization={organization.pk}")
    assert (refused.status_code, refused.json()["code"]) == (404, "wallet_not_found")
    # A stranger naming the organisation learns nothing.
    refused = api_client_for(UserFactory()).get(f"/api/wallet?organization={organization.pk}")
    assert (refused.status_code, refused.json()["code"]) == (404, "wallet_not_found")


def test_a_member_of_several_organisations_names_one(api_client_for, organization, client_account):
    from apps.accounts.services import client_create

    fund(client_account, 5)
    member = organization.members.get()
    second = client_create(user=member, name="Second")
    response = api_client_for(member).get("/api/wallet")
    assert (response.status_code, response.json()["code"]) == (400, "organization_required")
    chosen = api_client_for(member).get(f"/api/wallet?organization={organization.pk}").json()
    assert (chosen["organization"], chosen["available"]["amount"]) == (organization.pk, 5)
    assert api_client_for(member).get(f"/api/wallet?organization={second.pk}").json()["available"]["amount"] == 0


@pytest.mark.parametrize("query", ["ledger=EUR", "organization=abc", "reason=gift", "since=yesterday"])
def test_bad_parameters_are_400(api_client_for, earning_provider, query):
    response = api_client_for(earning_provider.user).get(f"/api/wallet/transactions?{query}")
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")


def test_history_newest_first_signed_with_decimals(api_client_for, earning_provider, provider_account):
    payouts = platform_account(PlatformAccount.PAYOUTS_IN_FLIGHT)
    later = timezone.now() + timedelta(seconds=5)
    transfers_create(
        [TransferSpec(id="payout:1", amount=1_000_000, debit_account_id=provider_account.pk,
                      credit_account_id=payouts.pk, reason=Reason.PAYOUT)],
        now=later,
    )  # fmt: skip
    body = api_client_for(earning_provider.user).get("/api/wallet/transactions").json()
    items = body["results"]
    assert items[0] | {"at": None} == {
        "id": "payout:1", "at": None, "reason": "payout", "kind": "single", "status": "posted",
        "amount": -1_000_000, "decimal": "-1.000000", "message_id": None,
    }  # fmt: skip
    assert {item["id"]: item["amount"] for item in items[1:]} == {"reward:job:1": 2_500_000, "reward:job:2": 400_000}
    rewards_only = api_client_for(earning_provider.user).get("/api/wallet/transactions?reason=reward").json()
    assert {item["id"] for item in rewards_only["results"]} == {"reward:job:1", "reward:job:2"}
    since = (later - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    recent = api_client_for(earning_provider.user).get("/api/wallet/transactions", {"since": since}).json()
    assert [item["id"] for item in recent["results"]] == ["payout:1"]
    until = api_client_for(earning_provider.user).get("/api/wallet/transactions", {"until": since}).json()
    assert {item["id"] for item in until["results"]} == {"reward:job:1", "reward:job:2"}


def test_history_pages_by_cursor_and_answers_304_until_it_changes(api_client_for, provider_account, rewards):
    start = timezone.now()
    for n in range(5):
        spec = TransferSpec(id=f"reward:{n}", amount=n + 1, debit_account_id=rewards.pk,
                            credit_account_id=provider_account.pk, reason=Reason.REWARD, pending=True)  # fmt: skip
        transfers_create([spec], now=start + timedelta(seconds=n))
    client = api_client_for(provider_account.provider.user)
    first = client.get("/api/wallet/transactions?limit=3")
    assert [item["id"] for item in first.json()["results"]] == ["reward:4", "reward:3", "reward:2"]
    second = client.get(first.json()["next"])
    assert [item["id"] for item in second.json()["results"]] == ["reward:1", "reward:0"]
    etag = first["ETag"]
    assert client.get("/api/wallet/transactions?limit=3", HTTP_IF_NONE_MATCH=etag).status_code == 304
    from apps.tokens.services import transfer_post

    transfer_post(id="reward:3:post", pending_id="reward:3", now=start + timedelta(seconds=10))
    changed = client.get("/api/wallet/transactions?limit=3", HTTP_IF_NONE_MATCH=etag)
    assert changed.status_code == 200
    assert changed.json()["results"][0]["id"] == "reward:3:post"


def test_history_query_count_does_not_grow_with_the_page(
    api_client_for, provider_account, rewards, django_assert_num_queries
):
    client = api_client_for(provider_account.provider.user)
    for n in range(20):
        transfers_create([TransferSpec(id=f"r:{n}", amount=1, debit_account_id=rewards.pk,
                                       credit_account_id=provider_account.pk, reason=Reason.REWARD)])  # fmt: skip
    client.get("/api/wallet/transactions")  # warm: the session was touched
    # provider, account, page (the session is cached in the process)
    with django_assert_num_queries(3):
        assert len(client.get("/api/wallet/transactions").json()["results"]) == 20


def test_a_wallet_with_no_account_yet_is_empty(api_client_for):
    provider = ProviderFactory()
    assert api_client_for(provider.user).get("/api/wallet/transactions").json()["results"] == []
    account_open(provider=provider)
    assert api_client_for(provider.user).get("/api/wallet").json()["available"]["amount"] == 0


def test_errors_are_in_khmer_by_default_and_english_on_request(api_client_for):
    client = api_client_for(UserFactory())
    assert client.get("/api/wallet").json()["message"] == "មិនមានកាបូបសម្រាប់អ្នកប្រើនេះទេ។"
    english = client.get("/api/wallet", HTTP_ACCEPT_LANGUAGE="en").json()["message"]
    assert english == "There is no wallet for this user."
