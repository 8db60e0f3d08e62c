"""The ledger's figures on /metrics, read from the latest reconciliation when scraped.

The check runs in a Celery worker while /metrics is served by the web processes, so a gauge set in the worker would
never be seen: this collector reads the latest `LedgerCheck` row instead (one indexed query per scrape). The hot
wallet's gas is read from the node by the chain sweep and kept in the shared metrics folder ("mostrecent").
"""

import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import Gauge
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from apps.tokens.chain.sender import ChainSender

logger = logging.getLogger(__name__)

# Set by the chain sweep (every CHAIN_SWEEP_SECONDS, in a worker); "mostrecent" keeps the latest of any process.
CHAIN_HOT_WALLET_GAS = Gauge(
    "peerpower_chain_hot_wallet_gas",
    "The hot wallet's balance of the chain's native coin (whole coins), which pays for every mint, burn and transfer.",
    multiprocess_mode="mostrecent",
)
NATIVE_COIN_WEI = 10**18


def hot_wallet_gas_record(sender: "ChainSender") -> int:
    """Read the hot wallet's native balance from the node and put it on /metrics; returns it in wei."""
    balance = sender.w3.eth.get_balance(sender.wallet.address)
    CHAIN_HOT_WALLET_GAS.set(balance / NATIVE_COIN_WEI)
    return balance


class LedgerCheckCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.tokens.models import LedgerCheck

        imbalance = GaugeMetricFamily(
            "peerpower_ledger_imbalance",
            "Ledger imbalance in smallest units found by the latest ledger check (0 when sound), by ledger.",
            labels=["ledger"],
        )
        breaks = GaugeMetricFamily("peerpower_ledger_breaks", "Broken invariants found by the latest ledger check.")
        checked = GaugeMetricFamily("peerpower_ledger_check_timestamp_seconds", "When the latest ledger check ran.")
        try:
            latest = LedgerCheck.objects.order_by("-started_at").first()
        except Exception:  # no database, no table yet: the other metrics must still be scraped
            logger.warning("ledger check figures unavailable", exc_info=True)
            latest = None
        if latest is not None:
            for code, amount in sorted(latest.imbalance.items()):
                imbalance.add_metric([code], amount)
            breaks.add_metric([], latest.breaks)
            checked.add_metric([], latest.started_at.timestamp())
        yield imbalance
        yield breaks
        yield checked

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
