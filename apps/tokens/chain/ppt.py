"""The PPT contract's operations through the hot wallet: deploy (development), batched mint and transfer, burn, and the
figures reconciliation reads (total supply, the custodial balance).

Amounts are in the ledger's units (10⁻⁶ PPT) and converted to the token's 18 decimals here, in one place.
"""

from django.conf import settings
from eth_abi import encode as abi_encode
from web3.contract import Contract

from apps.tokens.chain.contract import MAX_BATCH, UNITS_PER_LEDGER_UNIT, to_chain_units, token_artifact
from apps.tokens.chain.sender import CHAIN_CALL_ERRORS, ChainSender
from apps.tokens.choices import ChainTxPurpose, ChainTxState
from apps.tokens.errors import ChainMisconfigured, ChainUnavailable
from apps.tokens.models import ChainTransaction


def token_contract(sender: ChainSender) -> Contract:
    """The PPT contract: CHAIN_TOKEN_ADDRESS, or in development (CHAIN_DEPLOY_IF_MISSING) the one this database
    deployed on this chain, deployed now if there is none with code (a development chain restarts from genesis)."""
    address = settings.CHAIN_TOKEN_ADDRESS
    if not address:
        if not settings.CHAIN_DEPLOY_IF_MISSING:
            raise ChainMisconfigured("Set CHAIN_TOKEN_ADDRESS: the PPT contract's address.")
        try:
            address = token_deploy(sender)
        except CHAIN_CALL_ERRORS as error:
            raise ChainUnavailable() from error
    return sender.w3.eth.contract(address=sender.w3.to_checksum_address(address), abi=token_artifact().abi)


def token_deploy(sender: ChainSender) -> str:
    """Deploy the contract with the hot wallet as owner, minter and burner, unless one this database deployed on
    this chain has code; returns its address. Development and tests only (production names the address)."""
    deployed = ChainTransaction.objects.filter(
        chain_id=sender.chain_id, purpose=ChainTxPurpose.DEPLOY, state=ChainTxState.CONFIRMED
    ).order_by("-pk")
    for tx in deployed[:1]:
        if sender.w3.eth.get_code(sender.w3.to_checksum_address(tx.contract_address)):
            return tx.contract_address
    artifact = token_artifact()
    # Init code followed by the constructor's arguments (minter, burner).
    data = artifact.bytecode + abi_encode(["address", "address"], [sender.wallet.address] * 2).hex()
    # One deployment per generation: workers racing here share the reference, so only one is signed.
    generation = ChainTransaction.objects.filter(chain_id=sender.chain_id, purpose=ChainTxPurpose.DEPLOY).count()
    tx = sender.submit(
        purpose=ChainTxPurpose.DEPLOY,
        reference=f"deploy:token:{sender.chain_id}:{generation}",
        to=None,
        data=data,
    )
    tx = sender.wait(tx)
    if tx.state != ChainTxState.CONFIRMED:
        raise ChainMisconfigured(f"Deploying the PPT contract failed ({tx.state}): {tx.error}")
    return tx.contract_address


def _batch(recipients: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    if not 1 <= len(recipients) <= MAX_BATCH:
        raise ValueError(f"a batch has 1 to {MAX_BATCH} recipients, not {len(recipients)}")
    if any(amount <= 0 for _, amount in recipients):
        raise ValueError("every amount of a batch must be positive")
    return [address for address, _ in recipients], [to_chain_units(amount) for _, amount in recipients]


def token_mint_batch(sender: ChainSender, *, reference: str, recipients: list[tuple[str, int]]) -> ChainTransaction:
    """Mint each (address, ledger amount) in one transaction (`mintBatch`), at most once per `reference`."""
    addresses, amounts = _batch(recipients)
    units = [amount for _, amount in recipients]
    contract = token_contract(sender)
    data = contract.encode_abi("mintBatch", args=[addresses, amounts])
    return sender.submit(
        purpose=ChainTxPurpose.MINT, reference=reference, to=contract.address, data=data, amount=sum(units)
    )


def token_transfer_batch(sender: ChainSender, *, reference: str, recipients: list[tuple[str, int]]) -> ChainTransaction:
    """Pay each (address, ledger amount) from the custodial wallet in one transaction (`transferBatch`)."""
    addresses, amounts = _batch(recipients)
    units = [amount for _, amount in recipients]
    contract = token_contract(sender)
    data = contract.encode_abi("transferBatch", args=[addresses, amounts])
    return sender.submit(
        purpose=ChainTxPurpose.TRANSFER, reference=reference, to=contract.address, data=data, amount=sum(units)
    )


def token_burn(sender: ChainSender, *, reference: str, amount: int) -> ChainTransaction:
    """Burn `amount` (ledger units) that the custodial wallet holds."""
    if amount <= 0:
        raise ValueError("the amount to burn must be positive")
    contract = token_contract(sender)
    data = contract.encode_abi("burn", args=[to_chain_units(amount)])
    return sender.submit(
        purpose=ChainTxPurpose.BURN, reference=reference, to=contract.address, data=data, amount=amount
    )


def token_total_supply(sender: ChainSender) -> int:
    """Total supply on chain, in the token's base units (10⁻¹⁸ PPT)."""
    return token_contract(sender).functions.totalSupply().call()


def token_balance(sender: ChainSender, address: str) -> int:
    return token_contract(sender).functions.balanceOf(sender.w3.to_checksum_address(address)).call()


def ledger_units(chain_units: int) -> tuple[int, int]:
    """Token base units to (ledger units, remainder below the ledger's precision)."""
    return divmod(chain_units, UNITS_PER_LEDGER_UNIT)
