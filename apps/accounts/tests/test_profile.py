"""GET/PATCH /api/me: small payload, only name and language writable."""

import pytest

from apps.accounts.tests.factories import UserFactory
from apps.audit.models import AuditLog

pytestmark = pytest.mark.django_db


def test_get_me(api_client_for):
    user = UserFactory(display_name="Dara")
    body = api_client_for(user).get("/api/me").json()
    assert body == {
        "id": user.pk,
        "phone": user.phone,
        "display_name": "Dara",
        "preferred_language": "km",
        "did": None,
        "evm_address": None,
        "reputation_score": 500,
    }


def test_patch_changes_only_what_may_change(api_client_for):
    user = UserFactory()
    response = api_client_for(user).patch(
        "/api/me",
        {"display_name": "Sokha", "preferred_language": "en", "phone": "+85510000000", "reputation_score": 1000},
        format="json",
    )
    assert response.status_code == 200
    user.refresh_from_db()
    assert (user.display_name, user.preferred_language) == ("Sokha", "en")
    assert user.reputation_score == 500 and user.phone != "+85510000000"
    entry = AuditLog.objects.get(action="user.profile_updated")
    assert entry.after == {"display_name": "Sokha", "preferred_language": "en"}


def test_patch_refuses_an_unknown_language(api_client_for):
    response = api_client_for(UserFactory()).patch("/api/me", {"preferred_language": "fr"}, format="json")
    assert response.status_code == 400
    assert response.json()["details"]["fields"]["preferred_language"][0]["code"] == "invalid_choice"


def test_stranger_is_refused(api_client):
    response = api_client.get("/api/me")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"].startswith("Bearer")
