"""A development chain node on a free loopback port, and the hot wallet's sender pointed at it over HTTP."""

from collections.abc import Iterator

import pytest

from apps.tokens.chain.node import ChainNode
from apps.tokens.chain.sender import ChainSender

CHAIN_ID = 1953
# The node's first pre-funded account (private key 1), the development hot wallet.
DEV_KEY = "0x" + "00" * 31 + "01"


@pytest.fixture
def chain_node() -> Iterator[ChainNode]:
    with ChainNode(chain_id=CHAIN_ID) as node:
        yield node


@pytest.fixture
def chain_settings(settings, chain_node):
    settings.CHAIN_RPC_URL = chain_node.url
    settings.CHAIN_ID = CHAIN_ID
    settings.CHAIN_HOT_WALLET_KEY = DEV_KEY
    settings.CHAIN_HOT_WALLET_KEY_FILE = ""
    settings.CHAIN_TOKEN_ADDRESS = ""
    settings.CHAIN_DEPLOY_IF_MISSING = True
    settings.CHAIN_FINALITY = "finalized"
    settings.CHAIN_REPLACE_AFTER_SECONDS = 30.0
    settings.CHAIN_RECEIPT_TIMEOUT_SECONDS = 5.0
    return settings


@pytest.fixture
def sender(chain_settings, db) -> ChainSender:
    return ChainSender.from_settings()
