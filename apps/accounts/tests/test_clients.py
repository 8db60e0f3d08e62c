"""Client organisations and API keys: owner / another client user / stranger, secrets shown once, revocation."""

import pytest
from rest_framework.test import APIClient

from apps.accounts.models import ApiKey, ClientMembership
from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.urls("apps.accounts.tests.api_key_urls")]


@pytest.fixture
def owner_client(api_client_for):
    return api_client_for(UserFactory())


@pytest.fixture
def organization(owner_client):
    response = owner_client.post(
        "/api/clients", {"name": "Acme Bank", "contact_email": "ops@acme.example"}, format="json"
    )
    assert response.status_code == 201
    return response.json()


def create_key(client, organization_id, **extra):
    return client.post(f"/api/clients/{organization_id}/api-keys", {"name": "server", **extra}, format="json")


def with_key(secret, header="authorization"):
    client = APIClient()
    if header == "authorization":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    else:
        client.credentials(HTTP_X_API_KEY=secret)
    return client


def test_create_organization_makes_the_creator_owner(owner_client, organization):
    assert organization["name"] == "Acme Bank"
    assert ClientMembership.objects.get(organization_id=organization["id"]).role == "owner"
    assert [c["id"] for c in owner_client.get("/api/clients").json()] == [organization["id"]]
    assert AuditLog.objects.filter(action="client.created", target_id=str(organization["id"])).exists()


def test_key_secret_is_shown_once_and_stored_as_a_hash(owner_client, organization):
    response = create_key(owner_client, organization["id"], rate_per_second=10, rate_per_day=50_000)
    assert response.status_code == 201
    body = response.json()
    secret = body["secret"]
    assert secret.startswith("pp_live_") and len(secret) >= 48
    assert body["prefix"] == secret[:14]
    key = ApiKey.objects.get()
    assert secret not in key.secret_hash and (key.rate_per_second, key.rate_per_day) == (10, 50_000)
    listed = owner_client.get(f"/api/clients/{organization['id']}/api-keys").json()
    assert "secret" not in listed[0] and listed[0]["prefix"] == body["prefix"]
    assert AuditLog.objects.filter(action="api_key.created").count() == 1


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_key_authenticates_the_client_then_revocation_stops_it(owner_client, organization, header):
    body = create_key(owner_client, organization["id"]).json()
    response = with_key(body["secret"], header).get("/api/whoami")
    assert response.status_code == 200
    assert response.json() == {"client": organization["id"], "key": body["id"]}
    assert ApiKey.objects.get().last_used_at is not None

    revoke = owner_client.delete(f"/api/clients/{organization['id']}/api-keys/{body['id']}")
    assert revoke.status_code == 200 and revoke.json()["revoked_at"]
    refused = with_key(body["secret"], header).get("/api/whoami")
    assert refused.status_code == 401 and refused.json()["code"] == "api_key_revoked"
    assert AuditLog.objects.filter(action="api_key.revoked").count() == 1


@pytest.mark.parametrize("secret", ["pp_live_unknown", "pp_test_whatever"])
def test_unknown_key(secret):
    response = with_key(secret).get("/api/whoami")
    assert response.status_code == 401 and response.json()["code"] == "api_key_invalid"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_no_key(api_client):
    assert api_client.get("/api/whoami").json()["code"] == "not_authenticated"


def test_last_used_is_not_written_on_every_request(owner_client, organization, django_assert_num_queries):
    secret = create_key(owner_client, organization["id"]).json()["secret"]
    client = with_key(secret)
    client.get("/api/whoami")
    with django_assert_num_queries(0):  # the key is cached in the process (test_auth_cache)
        client.get("/api/whoami")


def test_another_client_user_and_a_stranger_cannot_touch_the_organization(
    owner_client, organization, api_client_for, api_client
):
    key_id = create_key(owner_client, organization["id"]).json()["id"]
    other = api_client_for(UserFactory())
    other.post("/api/clients", {"name": "Other Co"}, format="json")  # a client user, of another organisation
    base = f"/api/clients/{organization['id']}"
    for client, expected in ((other, 404), (api_client, 401)):
        assert client.get(base).status_code == expected
        assert client.get(f"{base}/api-keys").status_code == expected
        assert create_key(client, organization["id"]).status_code == expected
        assert client.delete(f"{base}/api-keys/{key_id}").status_code == expected
    assert organization["id"] not in [c["id"] for c in other.get("/api/clients").json()]
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1


def test_a_plain_member_can_read_but_not_manage_keys(owner_client, organization, api_client_for):
    member = UserFactory()
    ClientMembership.objects.create(organization_id=organization["id"], user=member, role="member")
    client = api_client_for(member)
    assert client.get(f"/api/clients/{organization['id']}/api-keys").status_code == 200
    refused = create_key(client, organization["id"])
    assert refused.status_code == 403 and refused.json()["code"] == "client_owner_required"


def test_key_input_validation(owner_client, organization):
    response = create_key(owner_client, organization["id"], rate_per_second=0)
    assert response.status_code == 400
    assert response.json()["details"]["fields"]["rate_per_second"][0]["code"] == "min_value"
