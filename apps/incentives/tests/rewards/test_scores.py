"""The provider score: its parts, stored on the provider by the beat task (matching's quality), and shown to the
provider."""

import pytest

from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag
from apps.incentives.reward_tasks import recompute_scores
from apps.providers.choices import Carrier
from apps.providers.models import Provider
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db


def test_strikes_and_reputation_lower_the_score_and_the_task_stores_it(established, provider, deliver):
    deliver()
    struck = provider_with_sim(Carrier.SMART)
    fraud_flag(provider_id=struck.pk, rule=FraudRule.CANARY_MISSED, strike=True)
    assert recompute_scores() == 2
    clean, bad = Provider.objects.get(pk=provider.pk), Provider.objects.get(pk=struck.pk)
    assert clean.score > bad.score
    assert bad.score_parts["strikes"] < clean.score_parts["strikes"] == 1.0
    assert bad.score_parts["reputation"] < clean.score_parts["reputation"]
    assert set(clean.score_parts) == {"reputation", "delivery", "latency", "uptime", "strikes"}
    assert clean.score_computed_at is not None


def test_the_provider_sees_its_score_and_parts(provider, api_client_for):
    phone = api_client_for(provider.user)
    response = phone.get("/api/providers/me/score")
    assert response.status_code == 200
    body = response.json()
    assert 0 <= body["score"] <= 1000 and body["parts"]["strikes"] == 1.0
    assert sum(body["weights"].values()) == 1000
    assert phone.get("/api/providers/me/score", HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
