"""The provider app's earnings API: totals, reward history (cursor, ETag), multipliers; owner, other provider,
stranger."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.accounts.tests.factories import UserFactory
from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag
from apps.incentives.rewards import rewards_post_due
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


def test_earnings_pending_then_available(established, provider, deliver, api_client_for):
    phone = api_client_for(provider.user)
    deliver()
    first = phone.get("/api/incentives/earnings")
    assert first.status_code == 200
    assert {key: first.json()[key] for key in ("pending", "available", "lifetime", "this_week", "owed")} == {
        "pending": 40_000, "available": 0, "lifetime": 0, "this_week": 40_000, "owed": 0,
    }  # fmt: skip
    assert phone.get("/api/incentives/earnings", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    rewards_post_due(now=timezone.now() + timedelta(days=2))
    after = phone.get("/api/incentives/earnings", HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert (after.json()["pending"], after.json()["available"], after.json()["lifetime"]) == (0, 40_000, 40_000)


def test_reward_history_is_the_providers_own_newest_first_cursor_paginated(
    established, provider, deliver, api_client_for, django_assert_max_num_queries
):
    jobs = [deliver(to=f"012 345 67{index}") for index in range(3)]
    fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=jobs[0])
    phone = api_client_for(provider.user)
    with django_assert_max_num_queries(8):
        page = phone.get("/api/incentives/rewards?limit=2")
    assert page.status_code == 200
    body = page.json()
    assert [row["job"] for row in body["results"]] == [jobs[2].pk, jobs[1].pk]
    assert {row["status"] for row in body["results"]} == {"voided"}
    rest = phone.get(body["next"]).json()
    assert [row["job"] for row in rest["results"]] == [jobs[0].pk]
    assert phone.get("/api/incentives/rewards?limit=2", HTTP_IF_NONE_MATCH=page["ETag"]).status_code == 304
    assert phone.get("/api/incentives/rewards?status=posted").json()["results"] == []

    other = provider_with_sim(Carrier.SMART)
    assert api_client_for(other.user).get("/api/incentives/rewards").json()["results"] == []
    stranger = api_client_for(UserFactory())
    assert stranger.get("/api/incentives/rewards").json()["code"] == "provider_not_registered"
    assert stranger.get("/api/incentives/earnings").json()["code"] == "provider_not_registered"


def test_bad_input_is_a_400(provider, api_client_for):
    phone = api_client_for(provider.user)
    assert phone.get("/api/incentives/rewards?status=paid").status_code == 400
    assert phone.get("/api/incentives/rewards?limit=0").json()["code"] == "limit_invalid"


def test_multipliers_for_every_carrier_route(provider, api_client_for):
    rows = api_client_for(provider.user).get("/api/incentives/multipliers").json()
    assert {"carrier": "smart", "route": "on_net", "multiplier_bp": 10_000} in rows
    assert len(rows) == 10
