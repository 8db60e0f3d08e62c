"""The provider's admin page shows its fraud strikes, earnings and payouts, and its recent jobs, each linked to the
page behind it; those panels come from apps above providers through `apps.providers.admin_panels`."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from apps.delivery.choices import FraudRule
from apps.delivery.fraud import fraud_flag, fraud_strike_clear
from apps.incentives.payouts.services import payout_request
from apps.incentives.rewards import rewards_post_due
from apps.incentives.tests.conftest import PPT, earn, rates  # noqa: F401
from apps.incentives.tests.rewards.conftest import deliver, established, provider  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def busy_provider(provider, established, deliver, rates, staff):  # noqa: F811
    """Two delivered jobs whose rewards (0.04 PPT each) have posted, a strike that counts (on the first job) and one
    staff cleared, 100 PPT earned and a queued payout of 10 PPT."""
    jobs = [deliver(), deliver(to="012 345 679")]
    rewards_post_due(now=timezone.now() + timedelta(days=2))  # past the verification window
    fraud_flag(provider_id=provider.pk, rule=FraudRule.CANARY_MISSED, strike=True, job=jobs[0])
    cleared = fraud_flag(provider_id=provider.pk, rule=FraudRule.BURST, strike=True)
    fraud_strike_clear(flag=cleared, actor=staff)
    earn(provider, 100 * PPT)
    provider.sims.update(verified_at=timezone.now())
    payout_request(provider=provider, actor=provider.user, method="airtime", amount=10 * PPT)
    return provider, jobs


def test_the_provider_page_shows_strikes_earnings_and_recent_jobs(client, staff, busy_provider):
    provider, jobs = busy_provider  # noqa: F811
    client.force_login(staff)
    page = client.get(reverse("admin:providers_provider_change", args=[provider.pk]), HTTP_ACCEPT_LANGUAGE="en")
    assert page.status_code == 200
    panels = {panel.title: panel for panel in page.context["provider_panels"]}
    assert list(panels) == ["Fraud strikes", "Earnings and payouts", "Recent jobs"]

    strikes = panels["Fraud strikes"]
    assert strikes.summary[0][1] == 1  # the cleared strike no longer counts
    assert [row[3].text for row in strikes.rows] == ["cleared", "counting"]  # newest first
    assert strikes.rows[1][2].url == reverse("admin:messaging_job_change", args=[jobs[0].pk])

    earnings = dict(panels["Earnings and payouts"].summary)
    assert earnings["Rewards pending (PPT)"] == "0.000000"
    assert earnings["Rewards posted (PPT)"] == "0.080000"  # `earn` books outside the rewards: not counted
    assert earnings["Rewards of the last 30 days (PPT)"] == "0.080000"
    (queued,) = panels["Earnings and payouts"].rows
    assert [cell.text for cell in queued] == ["Queued", 1, "10.000000"]

    recent = panels["Recent jobs"].rows
    assert [row[0].text for row in recent] == [jobs[1].pk, jobs[0].pk]
    assert [row[2].text for row in recent] == ["Delivered", "Delivered"]
    assert recent[0][1].url == reverse("admin:messaging_message_timeline", args=[jobs[1].message_id])

    html = page.content.decode()
    assert "Recent jobs" in html and f'href="{recent[0][0].url}"' in html
    links = [cell.url for panel in panels.values() for row in panel.rows for cell in row if cell.url]
    for url in links:
        assert client.get(url).status_code == 200, url
    (payouts_list,) = [url for url in links if "payout" in url]
    assert client.get(payouts_list).context["cl"].result_count == 1


def test_a_new_provider_page_says_there_is_nothing_yet(client, staff, provider):  # noqa: F811
    client.force_login(staff)
    page = client.get(reverse("admin:providers_provider_change", args=[provider.pk]), HTTP_ACCEPT_LANGUAGE="en")
    html = page.content.decode()
    assert "No fraud flags." in html and "No payouts." in html and "No jobs yet." in html
