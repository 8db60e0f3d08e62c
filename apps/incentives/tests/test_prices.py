"""Prices: staff rows with validity periods, the quote's arithmetic, and `GET /api/billing/prices`."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.incentives.choices import Route
from apps.incentives.models import Price
from apps.incentives.pricing import effective_price, prices_in_force, tariff
from apps.incentives.tests.conftest import CROSS, ON_NET
from apps.messaging.pricing import Quote
from apps.providers.choices import Carrier, MatchPriority

pytestmark = pytest.mark.django_db


def test_the_newest_valid_price_wins_and_ended_or_future_ones_do_not_apply():
    now = timezone.now()
    common = {"priority": MatchPriority.NORMAL, "route": Route.ON_NET}
    Price.objects.create(**common, amount=5, valid_from=now - timedelta(days=10))
    newest = Price.objects.create(**common, amount=7, valid_from=now - timedelta(days=1))
    Price.objects.create(**common, amount=9, valid_from=now + timedelta(days=1))  # not yet
    Price.objects.create(
        **common, amount=11, valid_from=now - timedelta(hours=2), valid_until=now - timedelta(hours=1)
    )  # ended
    assert prices_in_force(now=now)[(MatchPriority.NORMAL, Route.ON_NET)].id == newest.id
    assert prices_in_force(now=now + timedelta(days=2))[(MatchPriority.NORMAL, Route.ON_NET)].amount == 9


def test_a_quote_rounds_up_to_whole_units():
    assert effective_price(10_000, 10_000) == 10_000
    assert effective_price(10_001, 15_000) == 15_002  # 15001.5 → 15002
    assert effective_price(3, 3_333) == 1  # 0.9999 → 1
    assert effective_price(0, 20_000) == 0


def test_the_tariff_quotes_both_routes_and_leaves_unpriced_priorities_free(prices):
    Price.objects.filter(priority=MatchPriority.LOW).delete()
    answer = tariff({(MatchPriority.HIGH, Carrier.SMART), (MatchPriority.LOW, Carrier.SMART)}, timezone.now())
    assert answer == {(MatchPriority.HIGH, Carrier.SMART): Quote(on_net=ON_NET, cross_carrier=CROSS)}
    quote = answer[(MatchPriority.HIGH, Carrier.SMART)]
    assert quote.held_for(MatchPriority.HIGH) == CROSS
    assert quote.held_for(MatchPriority.LOW) == ON_NET  # low priority never goes cross-carrier


def test_prices_endpoint_lists_prices_in_force_with_multipliers(client_api, prices):
    response = client_api.get("/api/billing/prices")
    assert response.status_code == 200
    body = response.json()
    assert body["currency"] == "PPT"
    assert len(body["prices"]) == len(MatchPriority.values) * len(Route.values)
    first = body["prices"][0]
    assert (first["priority"], first["route"], first["base"]["amount"]) == ("high", "cross_carrier", CROSS)
    smart = next(item for item in first["carriers"] if item["carrier"] == Carrier.SMART)
    assert smart == {
        "carrier": "smart",
        "multiplier_bp": 10_000,
        "per_segment": {"amount": CROSS, "decimal": "0.015000"},
    }


def test_prices_endpoint_needs_a_client(db):
    from rest_framework.test import APIClient

    assert APIClient().get("/api/billing/prices").status_code == 401


def test_prices_endpoint_with_no_prices_lists_none(client_api):
    assert client_api.get("/api/billing/prices").json()["prices"] == []


def test_production_warns_when_no_price_is_in_force(db, settings, capsys):
    from django.core.checks import run_checks

    settings.DEBUG = False
    warnings = [m for m in run_checks(databases=["default"]) if m.id == "incentives.W001"]
    assert warnings and "free of charge" in warnings[0].msg
    for priority in MatchPriority.values:
        for route in Route.values:
            Price.objects.create(priority=priority, route=route, amount=1)
    assert not [m for m in run_checks(databases=["default"]) if m.id == "incentives.W001"]
    call_command("check")  # the ordinary check (no database) stays quiet


def test_demo_billing_seeds_prices_and_credits_the_demo_client_once(db):
    from apps.accounts.models import ClientOrganization
    from apps.incentives.tests.conftest import spendable

    call_command("ensure_demo_superuser")
    call_command("ensure_demo_billing")
    call_command("ensure_demo_billing")
    assert Price.objects.count() == len(MatchPriority.values) * len(Route.values)
    assert spendable(ClientOrganization.objects.get(name="Demo client")) == 100_000_000


def test_staff_can_only_end_an_applied_price_from_now_on(client):
    from apps.accounts.tests.factories import UserFactory
    from apps.audit.models import AuditLog

    staff = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(staff)
    price = Price.objects.create(
        priority=MatchPriority.NORMAL, route=Route.ON_NET, amount=10, valid_from=timezone.now() - timedelta(days=1)
    )
    url = f"/admin/incentives/price/{price.pk}/change/"
    past = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")
    future = (timezone.now() + timedelta(days=1)).strftime("%Y-%m-%d %H:%M:%S")

    def change(until: str, amount: int = 99) -> int:
        date, time = until.split()
        data = {"amount": amount, "valid_until_0": date, "valid_until_1": time}
        return client.post(url, data).status_code

    assert change(past) == 200  # the form again, with the error
    assert change(future) == 302
    price.refresh_from_db()
    assert price.amount == 10 and price.valid_until is not None  # the amount is read-only once applied
    assert AuditLog.objects.filter(action="price.changed").count() == 1
