"""Chaos: a fifth of the calls to the airtime and payout APIs time out (after the other side has acted). Every
payout ends final, or pending with a reason; nobody is paid twice; the ledger agrees with what was paid."""

import pytest

from apps.incentives.models import Payout
from apps.incentives.payouts import services
from apps.incentives.tests.conftest import PPT, earn
from apps.providers.tests.factories import provider_with_sim
from apps.tokens.models import Transfer

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("seed", [1, 2])
def test_twenty_percent_timeouts_pay_nobody_twice(seed, airtime, payway, rates, settings):
    from django.utils import timezone

    airtime.faults.reseed(seed)
    payway.faults.reseed(seed + 100)
    settings.PAYOUT_DAILY_MAX_COUNT = 100
    airtime.faults.timeout_rate = payway.faults.timeout_rate = 0.2
    airtime.faults.hang_seconds = settings.AIRTIME_TIMEOUT_SECONDS * 1.5
    payway.faults.hang_seconds = settings.PAYWAY_TIMEOUT_SECONDS * 1.5
    payouts = []
    for number in range(8):
        provider = provider_with_sim()
        provider.sims.update(verified_at=timezone.now())
        earn(provider, 100 * PPT)
        services.payout_account_register(
            provider=provider,
            actor=provider.user,
            account_number=f"0001234{number:02d}",
            holder_name="Chan Sopheap",
            currency="USD",
        )
        for method in ("airtime", "cash"):
            if method == "cash" and not provider.payout_accounts.get().whitelisted_at:
                continue  # its whitelisting timed out: refused up front, nothing booked
            payout = services.payout_request(provider=provider, actor=provider.user, method=method, amount=20 * PPT)
            payouts.append(services.payout_send(payout_id=payout.pk))
    assert any(payout.status == "pending" for payout in payouts), "the chaos did not bite: no unknown outcome"
    for _ in range(3):
        services.payouts_check_pending()
    delivered = {**airtime.delivered, **payway.delivered}
    assert max(delivered.values()) == 1  # nobody paid twice
    assert len(airtime.topups) + len(payway._payouts) == len(payouts)  # each sent once
    for payout in Payout.objects.all():
        transfer = Transfer.objects.get(id=payout.transfer_id)
        if payout.status == "succeeded":
            assert delivered.get(payout.public_id) == 1 and transfer.status == "posted"
        elif payout.status == "failed":
            assert payout.public_id not in delivered and transfer.status == "voided"
        else:
            assert payout.status == "pending" and payout.pending_reason and transfer.status == "pending"
