"""What each simulated client buys before it sends: enough for its share of the run, so a long run measures the
network and not the clients' balance (a 6,000-message run used to be refused 402 after its first 4,000)."""

from decimal import Decimal

from apps.incentives.management.commands.ensure_demo_billing import DEFAULT_PRICES
from apps.simulator.run import Simulation, SimulationConfig


def test_a_short_run_buys_the_configured_amount():
    assert Simulation(SimulationConfig(messages=200, clients=2))._topup_usd() == "10"


def test_a_long_run_buys_each_clients_share_at_the_dearest_price_twice_over():
    amount = Decimal(Simulation(SimulationConfig(messages=6001, clients=4))._topup_usd())
    assert amount == Decimal("60.04")  # 1,501 messages × 2 segments × 0.02 PPT, at 1 PPT per US dollar
    assert amount * 1_000_000 >= 1501 * 2 * max(DEFAULT_PRICES.values())


def test_never_more_than_the_largest_top_up_the_server_takes(settings):
    settings.TOPUP_MAX_USD = 5_000  # 50.00 US dollars, in cents
    assert Decimal(Simulation(SimulationConfig(messages=6000, clients=4))._topup_usd()) == 50
