"""The back office: the payout queue with its daily report, approve and reject (with a reason) through the admin's
actions, both audited."""

import re

import pytest
from django.urls import reverse

from apps.audit.models import AuditLog
from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.tests.conftest import PPT, available

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    from apps.accounts.tests.factories import UserFactory

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def waiting(provider, rates, settings):
    settings.PAYOUT_APPROVAL_ABOVE = 10 * PPT
    return [
        services.payout_request(provider=provider, actor=provider.user, method="airtime", amount=20 * PPT)
        for _ in range(2)
    ]


def test_the_queue_shows_the_report(admin_client, waiting):
    response = admin_client.get(reverse("admin:incentives_payout_changelist"), {"status__exact": "awaiting_approval"})
    assert response.status_code == 200
    assert waiting[0].public_id in response.content.decode()
    # The app list (sidebar) counts the payouts awaiting approval.
    assert re.findall(r'class="admin-badge" title="[^"]+">(\d+)</span>', response.content.decode()) == ["2"]
    report = response.context["daily_report"]
    assert [(row["method"], row["status"], row["count"], row["amount"]) for row in report] == [
        ("airtime", "awaiting_approval", 2, 40 * PPT)
    ]


def test_approve_and_reject_with_a_reason(admin_client, waiting, provider):
    url = reverse("admin:incentives_payout_changelist")
    admin_client.post(url, {"action": "approve", "_selected_action": [waiting[0].pk], "reason": ""})
    admin_client.post(url, {"action": "reject", "_selected_action": [waiting[1].pk], "reason": "unusual pattern"})
    approved, rejected = (Payout.objects.get(pk=payout.pk) for payout in waiting)
    assert approved.status == "queued" and approved.decided_by is not None
    assert rejected.status == "rejected" and rejected.rejection_reason == "unusual pattern"
    assert available(provider) == 80 * PPT  # the rejected payout's PPT is back
    assert AuditLog.objects.filter(action__in=["incentives.payout_approve", "incentives.payout_reject"]).count() == 2


def test_reject_needs_a_reason(admin_client, waiting):
    url = reverse("admin:incentives_payout_changelist")
    admin_client.post(url, {"action": "reject", "_selected_action": [waiting[0].pk], "reason": " "})
    assert Payout.objects.get(pk=waiting[0].pk).status == "awaiting_approval"
