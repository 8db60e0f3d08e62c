"""Benchmark of PPT on chain against the local JSON-RPC node over HTTP (`manage.py chain_node`, its own process).

Prints, for batches of 1, 100 and 500 fresh recipients (each recipient's first balance, the dearest case):

- `mintBatch` and `transferBatch`: gas used, gas per recipient (target ≤ 30,000), the time to build the batch (encode,
  eth_estimateGas, fees, nonce under the wallet's row lock, sign, store, broadcast) and the time until the sender
  calls it confirmed (receipt, then the node's finalized block);
- settlement throughput: `--withdrawals` withdrawals booked through `withdrawal_request` (per second), then settled
  end to end by `withdrawals_settle` + the sweep (batched, signed, mined, final, posted in the ledger): withdrawals/s
  and transactions used.

The node is eth-tester/py-evm in Python, so its block production costs far more CPU than Selendra's; the gas figures
are exact (the EVM's), the times say what our side costs plus a slow node.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/pp_chain_bench .venv/bin/python benchmarks/chain.py

The database name must end in `_bench`: the script empties the ledger's and the chain's tables. This is a
measurement, not a test.
"""

import argparse
import os
import platform
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peerpower.settings.development")
os.environ["DEBUG"] = "false"
os.environ.setdefault("LOG_LEVEL", "WARNING")

from benchmarks.common import bench_database_url  # noqa: E402

CHAIN_ID = 1953
PPT = 1_000_000


def node_start() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
        [sys.executable, "manage.py", "chain_node", "--port", "0", "--chain-id", str(CHAIN_ID)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"listening on (http://\S+)", line)
    if not match:
        process.kill()
        sys.exit(f"the chain node did not start: {line}")
    return process, match.group(1)


def addresses(start: int, count: int) -> list[str]:
    from web3 import Web3

    return [Web3.to_checksum_address(f"0x{n:040x}") for n in range(start, start + count)]


def batch_figures(sender, build, label: str, sizes: list[int], first_address: int) -> int:
    """Build and confirm one batch per size; print gas and times. Returns the next unused address number."""
    for size in sizes:
        recipients = [(address, PPT) for address in addresses(first_address, size)]
        first_address += size
        started = time.perf_counter()
        tx = build(sender, reference=f"bench:{label}:{size}:{first_address}", recipients=recipients)
        built = time.perf_counter()
        tx = sender.wait(tx, timeout=300, poll=0.05)
        confirmed = time.perf_counter()
        assert tx.state == "confirmed", tx
        print(
            f"{label:>13} {size:>4} recipients: gas {tx.gas_used:>10,} ({tx.gas_used / size:>8,.0f} per recipient), "
            f"build {1000 * (built - started):7.1f} ms, confirmed after {1000 * (confirmed - built):7.1f} ms"
        )
    return first_address


def settlement_figures(sender, count: int, first_address: int) -> None:
    from apps.providers.models import Provider
    from apps.providers.tests.factories import ProviderFactory
    from apps.tokens.chain.supply import supply_sync
    from apps.tokens.chain.withdrawals import withdrawals_settle
    from apps.tokens.choices import PlatformAccount, Reason, WithdrawalState
    from apps.tokens.models import ChainTransaction, SettlementBatch, Withdrawal
    from apps.tokens.services import TransferSpec, account_open, platform_account, transfers_create, withdrawal_request

    # Providers of an earlier run are reused (their phone numbers are taken); their balances were emptied above.
    providers = list(Provider.objects.order_by("pk")[:20])
    providers += [ProviderFactory() for _ in range(20 - len(providers))]
    issuance = platform_account(PlatformAccount.ISSUANCE)
    transfers_create(
        [
            TransferSpec(id=f"bench:fund:{p.pk}", amount=10**6 * PPT, debit_account_id=issuance.pk,
                         credit_account_id=account_open(provider=p).pk, reason=Reason.TOP_UP)
            for p in providers
        ]
    )  # fmt: skip
    sync = supply_sync(sender)
    if sync is not None:
        sender.wait(sync, timeout=300, poll=0.05)
    started = time.perf_counter()
    for n, address in enumerate(addresses(first_address, count)):
        withdrawal_request(provider=providers[n % len(providers)], address=address, amount=PPT + n)
    booked = time.perf_counter()
    transactions_before = ChainTransaction.objects.count()
    while Withdrawal.objects.exclude(state=WithdrawalState.SETTLED).exists():
        withdrawals_settle(sender)
        sender.sweep()
        if time.perf_counter() - booked > 1800:
            sys.exit("settlement did not finish in 30 minutes")
    settled = time.perf_counter()
    batches = SettlementBatch.objects.count()
    print(
        f"settlement: {count} withdrawals booked at {count / (booked - started):,.0f}/s; settled end to end "
        f"(batched, signed, final, posted) in {settled - booked:.2f} s = {count / (settled - booked):,.0f}/s, "
        f"{batches} batches, {ChainTransaction.objects.count() - transactions_before} transactions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1,100,500", help="recipients per batch, comma-separated")
    parser.add_argument("--withdrawals", type=int, default=2000, help="withdrawals in the settlement run")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = bench_database_url()
    node, url = node_start()
    os.environ.update(
        CHAIN_RPC_URL=url,
        CHAIN_ID=str(CHAIN_ID),
        CHAIN_HOT_WALLET_KEY="0x" + "00" * 31 + "01",
        CHAIN_DEPLOY_IF_MISSING="true",
        WITHDRAWAL_MIN_AMOUNT="1",
        # py-evm estimates and mines a 500-recipient batch in seconds, more on a loaded machine.
        CHAIN_RPC_TIMEOUT_SECONDS="120",
        WITHDRAWAL_DAILY_LIMIT=str(10**18),
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection

        call_command("migrate", verbosity=0)
        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE tokens_withdrawal, tokens_settlementbatch, tokens_chaintransaction, tokens_chainwallet, "
                "tokens_transfer, tokens_hotbalancedelta, tokens_adjustment CASCADE"
            )
            cursor.execute("UPDATE tokens_account SET debits_pending = 0, debits_posted = 0, credits_pending = 0, "
                           "credits_posted = 0")  # fmt: skip
        from apps.tokens.chain import ppt
        from apps.tokens.chain.sender import ChainSender

        sender = ChainSender.from_settings()
        ppt.token_contract(sender)  # deployed before anything is timed
        print(f"# {platform.node()}, load {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} before")
        sizes = [int(size) for size in args.sizes.split(",")]
        next_address = batch_figures(sender, ppt.token_mint_batch, "mintBatch", sizes, 0x1000)
        # The custodial wallet needs PPT to pay out: mint it some first (not timed).
        sender.wait(
            ppt.token_mint_batch(sender, reference="bench:custody", recipients=[(sender.wallet.address, 10**9)])
        )
        next_address = batch_figures(sender, ppt.token_transfer_batch, "transferBatch", sizes, next_address)
        # Supply bookkeeping starts from this chain: what the benchmark minted above is not in the ledger.
        settlement_figures(sender, args.withdrawals, next_address)
        print(f"# load {os.getloadavg()[0]:.2f} / {os.getloadavg()[1]:.2f} after")
    finally:
        node.send_signal(signal.SIGTERM)
        node.wait(timeout=10)


if __name__ == "__main__":
    main()
