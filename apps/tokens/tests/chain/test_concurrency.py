"""Several workers sending from the one hot wallet at once: the wallet's row makes them take nonces one at a time."""

import threading

import pytest
from django.db import connection
from web3 import Web3

from apps.tokens.chain import ppt
from apps.tokens.chain.sender import ChainSender
from apps.tokens.choices import ChainTxState
from apps.tokens.models import ChainTransaction

WORKERS = 6


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="real parallel transactions: PostgreSQL")
def test_concurrent_senders_never_share_a_nonce(chain_settings, chain_node):
    ppt.token_contract(ChainSender.from_settings())  # deployed first, so each worker only mints
    chain_node.chain.set_automine(False)  # nothing is mined meanwhile: nonces come from the database alone
    start = threading.Barrier(WORKERS)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            sender = ChainSender.from_settings()  # a process of its own: its own connection and web3
            start.wait()
            ppt.token_mint_batch(
                sender, reference=f"mint:worker:{n}", recipients=[(Web3.to_checksum_address(f"0x{n + 1:040x}"), 1)]
            )
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    nonces = sorted(
        ChainTransaction.objects.filter(reference__startswith="mint:worker:").values_list("nonce", flat=True)
    )
    assert nonces == list(range(1, WORKERS + 1))

    chain_node.chain.mine()
    assert ChainSender.from_settings().sweep() == 0
    states = set(ChainTransaction.objects.values_list("state", flat=True))
    assert states == {ChainTxState.CONFIRMED}
    assert ppt.token_total_supply(ChainSender.from_settings()) == WORKERS * 10**12
