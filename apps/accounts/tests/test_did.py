"""Binding a did:key (Ed25519) by signing a challenge, checked with a real crypto library."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from multiformats import multibase, multicodec

from apps.accounts.models import IdentityChallenge
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db


def new_key() -> tuple[Ed25519PrivateKey, str]:
    key = Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key, "did:key:" + multibase.encode(multicodec.wrap("ed25519-pub", raw), "base58btc")


def sign(key: Ed25519PrivateKey, message: str) -> str:
    return base64.urlsafe_b64encode(key.sign(message.encode())).decode().rstrip("=")


def challenge(client) -> dict:
    response = client.post("/api/me/did/challenge")
    assert response.status_code == 201
    return response.json()


def test_bind_with_a_good_signature(api_client_for):
    user = UserFactory()
    client = api_client_for(user)
    key, did = new_key()
    message = challenge(client)["message"]
    response = client.post("/api/me/did", {"did": did, "signature": sign(key, message)}, format="json")
    assert response.status_code == 200 and response.json()["did"] == did
    user.refresh_from_db()
    assert user.did == did
    assert AuditLog.objects.filter(action="user.did_bound", target_id=str(user.pk)).exists()
    # The challenge is spent, and one DID per user.
    assert IdentityChallenge.objects.get().used_at is not None
    message = challenge(client)["message"]
    again = client.post("/api/me/did", {"did": did, "signature": sign(key, message)}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "did_already_bound"


def test_bad_signature(api_client_for):
    client = api_client_for(UserFactory())
    _, did = new_key()
    other_key, _ = new_key()
    message = challenge(client)["message"]
    response = client.post("/api/me/did", {"did": did, "signature": sign(other_key, message)}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "did_signature_invalid"


def test_signature_over_another_text(api_client_for):
    client = api_client_for(UserFactory())
    key, did = new_key()
    challenge(client)
    response = client.post("/api/me/did", {"did": did, "signature": sign(key, "something else")}, format="json")
    assert response.json()["code"] == "did_signature_invalid"


@pytest.mark.parametrize(
    "did",
    [
        "did:web:example.com",
        "did:key:not-base58",
        "did:key:z6Mk",  # too short
        # A secp256k1 key, not Ed25519.
        "did:key:" + multibase.encode(multicodec.wrap("secp256k1-pub", b"\x02" + b"\x01" * 32), "base58btc"),
    ],
)
def test_malformed_did(api_client_for, did):
    client = api_client_for(UserFactory())
    challenge(client)
    response = client.post("/api/me/did", {"did": did, "signature": "AAAA"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "did_malformed"


def test_did_taken_by_another_user(api_client_for):
    key, did = new_key()
    first = api_client_for(UserFactory())
    first.post("/api/me/did", {"did": did, "signature": sign(key, challenge(first)["message"])}, format="json")
    second = api_client_for(UserFactory())
    response = second.post(
        "/api/me/did", {"did": did, "signature": sign(key, challenge(second)["message"])}, format="json"
    )
    assert response.status_code == 409 and response.json()["code"] == "did_taken"


def test_no_challenge(api_client_for):
    key, did = new_key()
    response = api_client_for(UserFactory()).post(
        "/api/me/did", {"did": did, "signature": sign(key, "x")}, format="json"
    )
    assert response.status_code == 400 and response.json()["code"] == "challenge_invalid"


def test_another_users_challenge_does_not_count(api_client_for):
    key, did = new_key()
    owner = api_client_for(UserFactory())
    message = challenge(owner)["message"]
    other = api_client_for(UserFactory())
    response = other.post("/api/me/did", {"did": did, "signature": sign(key, message)}, format="json")
    assert response.json()["code"] == "challenge_invalid"


def test_stranger(api_client):
    assert api_client.post("/api/me/did/challenge").status_code == 401


def test_a_dids_key_is_decoded_once_per_process_and_still_checks_every_signature():
    """The key behind a DID is kept once decoded (every report of a phone checks against it); what it verifies is
    unchanged: its own signatures pass, another key's and another text's fail, each time."""
    from apps.accounts.did import did_public_key, verify_did_signature
    from apps.accounts.errors import DidSignatureInvalid

    key, did = new_key()
    other_key, other_did = new_key()
    assert did_public_key(did) is did_public_key(did)
    assert did_public_key(other_did) is not did_public_key(did)
    for _ in range(2):
        verify_did_signature(did=did, message="report", signature=sign(key, "report"))
        with pytest.raises(DidSignatureInvalid):
            verify_did_signature(did=did, message="report", signature=sign(other_key, "report"))
        with pytest.raises(DidSignatureInvalid):
            verify_did_signature(did=did, message="another report", signature=sign(key, "report"))


@pytest.mark.parametrize("did", ["did:key:not-base58", "did:key:z6Mk", None, ["did:key:z6Mk"], 7])
def test_a_malformed_did_is_refused_every_time(did):
    from apps.accounts.did import did_public_key
    from apps.accounts.errors import DidMalformed

    for _ in range(2):
        with pytest.raises(DidMalformed):
            did_public_key(did)
