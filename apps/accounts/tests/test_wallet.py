"""Sign-In with Ethereum (EIP-4361) wallet binding: each refusal has its own code."""

from datetime import timedelta

import pytest
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct

from apps.accounts.models import IdentityChallenge
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet():
    return Account.create()


def sign(account, message: str) -> str:
    return "0x" + account.sign_message(encode_defunct(text=message)).signature.hex().removeprefix("0x")


def challenge(client, account) -> str:
    response = client.post("/api/me/wallet/challenge", {"address": account.address}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["message"]


def bind(client, message, signature):
    return client.post("/api/me/wallet", {"message": message, "signature": signature}, format="json")


def test_good_binding_then_unbind(api_client_for, wallet):
    user = UserFactory()
    client = api_client_for(user)
    message = challenge(client, wallet)
    assert "wants you to sign in with your Ethereum account" in message and "Chain ID: 1961" in message
    response = bind(client, message, sign(wallet, message))
    assert response.status_code == 200 and response.json()["evm_address"] == wallet.address
    user.refresh_from_db()
    assert user.evm_address == wallet.address
    assert client.delete("/api/me/wallet").json()["evm_address"] is None
    assert client.delete("/api/me/wallet").json()["code"] == "wallet_not_bound"
    actions = AuditLog.objects.filter(target_type="accounts.user", target_id=str(user.pk)).order_by("id")
    assert list(actions.values_list("action", flat=True)) == ["user.wallet_bound", "user.wallet_unbound"]


def test_replayed_message(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet)
    signature = sign(wallet, message)
    assert bind(client, message, signature).status_code == 200
    client.delete("/api/me/wallet")
    replay = bind(client, message, signature)
    assert replay.status_code == 400 and replay.json()["code"] == "wallet_message_reused"


def test_wrong_nonce(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet).replace("Nonce: ", "Nonce: 0000")
    assert bind(client, message, sign(wallet, message)).json()["code"] == "wallet_nonce_invalid"


def test_wrong_domain(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet).replace("localhost:8000 wants", "evil.example wants")
    assert bind(client, message, sign(wallet, message)).json()["code"] == "wallet_domain_mismatch"


def test_wrong_chain(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet).replace("Chain ID: 1961", "Chain ID: 1")
    assert bind(client, message, sign(wallet, message)).json()["code"] == "wallet_chain_mismatch"


def test_expired(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet)
    IdentityChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bind(client, message, sign(wallet, message)).json()["code"] == "wallet_message_expired"


def test_signed_by_another_wallet(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet)
    assert bind(client, message, sign(Account.create(), message)).json()["code"] == "wallet_signature_invalid"


def test_garbage_signature_and_message(api_client_for, wallet):
    client = api_client_for(UserFactory())
    message = challenge(client, wallet)
    assert bind(client, message, "0x1234").json()["code"] == "wallet_signature_invalid"
    assert bind(client, "hello", "0x1234").json()["code"] == "wallet_message_malformed"
    bad_address = client.post("/api/me/wallet/challenge", {"address": "0xnope"}, format="json")
    assert bad_address.status_code == 400 and bad_address.json()["code"] == "wallet_message_malformed"


def test_address_taken_by_another_user(api_client_for, wallet):
    first = api_client_for(UserFactory())
    message = challenge(first, wallet)
    bind(first, message, sign(wallet, message))
    second = api_client_for(UserFactory())
    message = challenge(second, wallet)
    response = bind(second, message, sign(wallet, message))
    assert response.status_code == 409 and response.json()["code"] == "wallet_taken"


def test_another_users_nonce_is_not_accepted(api_client_for, wallet):
    owner = api_client_for(UserFactory())
    message = challenge(owner, wallet)
    other = api_client_for(UserFactory())
    assert bind(other, message, sign(wallet, message)).json()["code"] == "wallet_nonce_invalid"


def test_stranger(api_client):
    assert api_client.post("/api/me/wallet/challenge", {"address": "0x" + "1" * 40}, format="json").status_code == 401
    assert api_client.delete("/api/me/wallet").status_code == 401
