"""The hot wallet's gas on /metrics.

Every mint, burn and transfer is paid for in the chain's native coin from the hot wallet: when it runs dry, nothing
settles. The chain sweep reads the balance (every CHAIN_SWEEP_SECONDS, in a worker) and keeps it in the shared
metrics folder; "mostrecent" exposes the latest reading of any process. Defined here, in the chain package, so the
figure exists only where the chain is on (a 0 from a process that never read it would look like an empty wallet).
"""

from prometheus_client import Gauge

from apps.tokens.chain.sender import ChainSender

CHAIN_HOT_WALLET_GAS = Gauge(
    "peerpower_chain_hot_wallet_gas",
    "The hot wallet's balance of the chain's native coin (whole coins), which pays for every mint, burn and transfer.",
    multiprocess_mode="mostrecent",
)
NATIVE_COIN_WEI = 10**18


def hot_wallet_gas_record(sender: ChainSender) -> int:
    """Read the hot wallet's native balance from the node and put it on /metrics; returns it in wei."""
    balance = sender.w3.eth.get_balance(sender.wallet.address)
    CHAIN_HOT_WALLET_GAS.set(balance / NATIVE_COIN_WEI)
    return balance
