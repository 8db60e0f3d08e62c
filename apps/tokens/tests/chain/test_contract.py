"""The PeerPower Token contract on eth-tester's in-process chain: build reproduction, roles, ERC20 behaviour, supply
arithmetic and the gas a batch costs per recipient."""

import pytest
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed
from web3 import Web3
from web3.exceptions import ContractLogicError
from web3.providers.eth_tester import EthereumTesterProvider

from apps.tokens.chain.contract import MAX_BATCH, TOKEN_ARTIFACT, artifact_text, compile_token, token_artifact

PPT = 10**18
# The budget per recipient of a batch (fresh recipients: each costs a zero-to-nonzero storage write).
GAS_PER_RECIPIENT_BUDGET = 30_000
# web3 raises ContractLogicError when its gas estimate reverts; eth-tester raises its own when a sent one does.
REVERTED = (ContractLogicError, TransactionFailed)


def test_recompiling_the_source_reproduces_the_committed_abi_and_bytecode():
    assert artifact_text(compile_token()) == TOKEN_ARTIFACT.read_text()


@pytest.fixture(scope="module")
def w3():
    backend = PyEVMBackend.from_mnemonic(
        "test test test test test test test test test test test junk",
        num_accounts=8,
        genesis_state_overrides={"balance": 10**24},
    )
    return Web3(EthereumTesterProvider(EthereumTester(backend)))


@pytest.fixture
def snapshot(w3):
    tester = w3.provider.ethereum_tester
    snapshot_id = tester.take_snapshot()
    yield
    tester.revert_to_snapshot(snapshot_id)


@pytest.fixture
def roles(w3):
    owner, minter, burner, alice, bob, carol, *_ = w3.eth.accounts
    return {"owner": owner, "minter": minter, "burner": burner, "alice": alice, "bob": bob, "carol": carol}


@pytest.fixture
def token(w3, roles, snapshot):
    artifact = token_artifact()
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx = factory.constructor(roles["minter"], roles["burner"]).transact({"from": roles["owner"]})
    address = w3.eth.get_transaction_receipt(tx)["contractAddress"]
    return w3.eth.contract(address=address, abi=artifact.abi)


def _events(token, receipt, name):
    return [dict(e["args"]) for e in getattr(token.events, name)().process_receipt(receipt)]


def test_metadata(token, roles):
    assert token.functions.name().call() == "PeerPower Token"
    assert token.functions.symbol().call() == "PPT"
    assert token.functions.decimals().call() == 18
    assert token.functions.totalSupply().call() == 0
    assert token.functions.owner().call() == roles["owner"]
    assert token.functions.isMinter(roles["minter"]).call()
    assert token.functions.isBurner(roles["burner"]).call()
    assert not token.functions.isMinter(roles["owner"]).call()


def test_only_a_minter_mints(w3, token, roles):
    for account in (roles["owner"], roles["burner"], roles["alice"]):
        with pytest.raises(REVERTED, match="caller is not a minter"):
            token.functions.mint(roles["alice"], PPT).transact({"from": account})
        with pytest.raises(REVERTED, match="caller is not a minter"):
            token.functions.mintBatch([roles["alice"]], [PPT]).transact({"from": account})
    assert token.functions.totalSupply().call() == 0

    tx = token.functions.mint(roles["alice"], 5 * PPT).transact({"from": roles["minter"]})
    receipt = w3.eth.get_transaction_receipt(tx)
    assert _events(token, receipt, "Transfer") == [
        {"sender": "0x" + "00" * 20, "receiver": roles["alice"], "value": 5 * PPT}
    ]
    assert token.functions.balanceOf(roles["alice"]).call() == 5 * PPT
    assert token.functions.totalSupply().call() == 5 * PPT


def test_only_the_owner_rotates_roles_and_revoked_roles_stop_working(w3, token, roles):
    with pytest.raises(REVERTED, match="caller is not the owner"):
        token.functions.setMinter(roles["alice"], True).transact({"from": roles["minter"]})
    with pytest.raises(REVERTED, match="caller is not the owner"):
        token.functions.setBurner(roles["alice"], True).transact({"from": roles["alice"]})

    tx = token.functions.setMinter(roles["minter"], False).transact({"from": roles["owner"]})
    assert _events(token, w3.eth.get_transaction_receipt(tx), "MinterSet") == [
        {"account": roles["minter"], "enabled": False}
    ]
    with pytest.raises(REVERTED, match="caller is not a minter"):
        token.functions.mint(roles["alice"], PPT).transact({"from": roles["minter"]})
    tx = token.functions.setBurner(roles["alice"], True).transact({"from": roles["owner"]})
    assert _events(token, w3.eth.get_transaction_receipt(tx), "BurnerSet") == [
        {"account": roles["alice"], "enabled": True}
    ]
    token.functions.setBurner(roles["burner"], False).transact({"from": roles["owner"]})
    with pytest.raises(REVERTED, match="caller is not a burner"):
        token.functions.burn(0).transact({"from": roles["burner"]})


def test_ownership_moves_in_two_steps(w3, token, roles):
    token.functions.transferOwnership(roles["alice"]).transact({"from": roles["owner"]})
    assert token.functions.owner().call() == roles["owner"]
    with pytest.raises(REVERTED, match="not the pending owner"):
        token.functions.acceptOwnership().transact({"from": roles["bob"]})
    tx = token.functions.acceptOwnership().transact({"from": roles["alice"]})
    assert _events(token, w3.eth.get_transaction_receipt(tx), "OwnershipTransferred") == [
        {"previous_owner": roles["owner"], "new_owner": roles["alice"]}
    ]
    with pytest.raises(REVERTED, match="caller is not the owner"):
        token.functions.setMinter(roles["bob"], True).transact({"from": roles["owner"]})
    token.functions.setMinter(roles["bob"], True).transact({"from": roles["alice"]})
    assert token.functions.isMinter(roles["bob"]).call()


def test_transfers_and_allowances(token, roles):
    alice, bob, carol = roles["alice"], roles["bob"], roles["carol"]
    token.functions.mint(alice, 10 * PPT).transact({"from": roles["minter"]})
    token.functions.transfer(bob, 3 * PPT).transact({"from": alice})
    with pytest.raises(REVERTED):
        token.functions.transfer(bob, 8 * PPT).transact({"from": alice})
    with pytest.raises(REVERTED, match="transfer to zero address"):
        token.functions.transfer("0x" + "00" * 20, PPT).transact({"from": alice})
    assert token.functions.balanceOf(alice).call() == 7 * PPT
    assert token.functions.balanceOf(bob).call() == 3 * PPT

    with pytest.raises(REVERTED):
        token.functions.transferFrom(alice, carol, PPT).transact({"from": bob})
    token.functions.approve(bob, 2 * PPT).transact({"from": alice})
    assert token.functions.allowance(alice, bob).call() == 2 * PPT
    token.functions.transferFrom(alice, carol, PPT + 1).transact({"from": bob})
    assert token.functions.allowance(alice, bob).call() == PPT - 1
    with pytest.raises(REVERTED):
        token.functions.transferFrom(alice, carol, PPT).transact({"from": bob})
    # The maximum allowance is unlimited and is not spent down.
    unlimited = 2**256 - 1
    token.functions.approve(bob, unlimited).transact({"from": alice})
    token.functions.transferFrom(alice, carol, PPT).transact({"from": bob})
    assert token.functions.allowance(alice, bob).call() == unlimited
    assert token.functions.balanceOf(carol).call() == 2 * PPT + 1
    assert token.functions.totalSupply().call() == 10 * PPT


def test_burn_and_supply_arithmetic(token, roles):
    burner, alice = roles["burner"], roles["alice"]
    token.functions.mintBatch([burner, alice], [6 * PPT, 4 * PPT]).transact({"from": roles["minter"]})
    token.functions.burn(2 * PPT).transact({"from": burner})
    with pytest.raises(REVERTED):
        token.functions.burn(5 * PPT).transact({"from": burner})
    with pytest.raises(REVERTED, match="caller is not a burner"):
        token.functions.burn(PPT).transact({"from": alice})
    # burnFrom spends an allowance, as transferFrom does.
    with pytest.raises(REVERTED):
        token.functions.burnFrom(alice, PPT).transact({"from": burner})
    token.functions.approve(burner, PPT).transact({"from": alice})
    token.functions.burnFrom(alice, PPT).transact({"from": burner})
    balances = [token.functions.balanceOf(a).call() for a in (burner, alice)]
    assert balances == [4 * PPT, 3 * PPT]
    assert token.functions.totalSupply().call() == sum(balances) == 7 * PPT


def test_batches_are_all_or_nothing(token, roles):
    alice, bob = roles["alice"], roles["bob"]
    with pytest.raises(REVERTED, match="length mismatch"):
        token.functions.mintBatch([alice, bob], [PPT]).transact({"from": roles["minter"]})
    with pytest.raises(REVERTED, match="mint to zero address"):
        token.functions.mintBatch([alice, "0x" + "00" * 20], [PPT, PPT]).transact({"from": roles["minter"]})
    token.functions.mint(alice, 3 * PPT).transact({"from": roles["minter"]})
    with pytest.raises(REVERTED):
        token.functions.transferBatch([bob, roles["carol"]], [2 * PPT, 2 * PPT]).transact({"from": alice})
    assert token.functions.balanceOf(bob).call() == 0
    token.functions.transferBatch([bob, alice], [2 * PPT, PPT]).transact({"from": alice})
    assert token.functions.balanceOf(alice).call() == PPT  # paid 3, of which 1 to itself
    assert token.functions.balanceOf(bob).call() == 2 * PPT
    assert token.functions.totalSupply().call() == 3 * PPT
    too_many = [bob] * (MAX_BATCH + 1)
    with pytest.raises(Exception):  # noqa: B017 - the ABI encoder or the contract refuses; either way no mint
        token.functions.mintBatch(too_many, [1] * len(too_many)).transact({"from": roles["minter"]})


@pytest.mark.parametrize("batch", ["mintBatch", "transferBatch"])
def test_batch_gas_per_recipient_is_within_budget(w3, token, roles, batch):
    """Each fresh recipient of a full batch costs well under 30,000 gas (measured: see the README)."""
    sender = roles["minter"]
    if batch == "transferBatch":
        token.functions.mint(sender, 10**6 * PPT).transact({"from": sender})
    fn = getattr(token.functions, batch)
    addresses = [w3.to_checksum_address(f"0x{0xA000 + i:040x}") for i in range(2 * MAX_BATCH + 1)]
    one = w3.eth.get_transaction_receipt(fn(addresses[:1], [PPT]).transact({"from": sender}))["gasUsed"]
    full = w3.eth.get_transaction_receipt(
        fn(addresses[1 : MAX_BATCH + 1], [PPT] * MAX_BATCH).transact({"from": sender, "gas": 20_000_000})
    )["gasUsed"]
    per_recipient = full / MAX_BATCH
    marginal = (full - one) / (MAX_BATCH - 1)
    print(
        f"{batch}: {MAX_BATCH} fresh recipients {full} gas, {per_recipient:.0f} per recipient, marginal {marginal:.0f}"
    )
    assert per_recipient <= GAS_PER_RECIPIENT_BUDGET
    assert token.functions.balanceOf(addresses[MAX_BATCH]).call() == PPT
