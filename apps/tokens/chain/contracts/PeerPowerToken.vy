# pragma version 0.4.3
# pragma evm-version shanghai
# @license MIT
"""
@title PeerPower Token (PPT)
@notice ERC20 with 18 decimals that mirrors PeerPower's off-chain PPT ledger on Selendra. New tokens exist only
        through an account holding the minter role, and leave only through one holding the burner role; the owner
        grants and revokes both roles and can hand ownership over (two steps: propose, then accept).
        Minting and burning emit the ERC20 `Transfer` event from or to the zero address (what wallets and indexers
        read) and role and ownership changes have events of their own.
        `mintBatch` and `transferBatch` settle up to MAX_BATCH recipients in one transaction: the sender's balance
        and the total supply are written once per batch, so each recipient costs one balance write and one event.
"""

from ethereum.ercs import IERC20

implements: IERC20

MAX_BATCH: constant(uint256) = 500

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event MinterSet:
    account: indexed(address)
    enabled: bool

event BurnerSet:
    account: indexed(address)
    enabled: bool

event OwnershipTransferStarted:
    previous_owner: indexed(address)
    new_owner: indexed(address)

event OwnershipTransferred:
    previous_owner: indexed(address)
    new_owner: indexed(address)

name: public(constant(String[32])) = "PeerPower Token"
symbol: public(constant(String[8])) = "PPT"
decimals: public(constant(uint8)) = 18

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)

owner: public(address)
pendingOwner: public(address)
isMinter: public(HashMap[address, bool])
isBurner: public(HashMap[address, bool])


@deploy
def __init__(minter: address, burner: address):
    self.owner = msg.sender
    log OwnershipTransferred(previous_owner=empty(address), new_owner=msg.sender)
    if minter != empty(address):
        self.isMinter[minter] = True
        log MinterSet(account=minter, enabled=True)
    if burner != empty(address):
        self.isBurner[burner] = True
        log BurnerSet(account=burner, enabled=True)


# --- ERC20 ---------------------------------------------------------------------------------------------------------

@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    self._spend_allowance(sender, msg.sender, amount)
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    assert spender != empty(address), "PPT: approve to zero address"
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


# --- Batches -------------------------------------------------------------------------------------------------------

@external
def transferBatch(receivers: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]) -> bool:
    """
    @notice Pay each receiver its amount from the caller's balance, all or nothing.
    """
    assert len(receivers) == len(amounts), "PPT: length mismatch"
    total: uint256 = 0
    for i: uint256 in range(len(receivers), bound=MAX_BATCH):
        receiver: address = receivers[i]
        amount: uint256 = amounts[i]
        assert receiver != empty(address), "PPT: transfer to zero address"
        total += amount
        self.balanceOf[receiver] += amount
        log Transfer(sender=msg.sender, receiver=receiver, value=amount)
    # Checked subtraction: the whole batch reverts if the caller cannot cover it. Paying oneself in a batch is a
    # no-op in effect because the caller's credit above is taken back here.
    self.balanceOf[msg.sender] -= total
    return True


@external
def mintBatch(receivers: DynArray[address, MAX_BATCH], amounts: DynArray[uint256, MAX_BATCH]) -> bool:
    """
    @notice Create each amount for its receiver (minter role), all or nothing.
    """
    assert self.isMinter[msg.sender], "PPT: caller is not a minter"
    assert len(receivers) == len(amounts), "PPT: length mismatch"
    total: uint256 = 0
    for i: uint256 in range(len(receivers), bound=MAX_BATCH):
        receiver: address = receivers[i]
        amount: uint256 = amounts[i]
        assert receiver != empty(address), "PPT: mint to zero address"
        total += amount
        self.balanceOf[receiver] += amount
        log Transfer(sender=empty(address), receiver=receiver, value=amount)
    self.totalSupply += total
    return True


# --- Mint and burn -------------------------------------------------------------------------------------------------

@external
def mint(receiver: address, amount: uint256) -> bool:
    assert self.isMinter[msg.sender], "PPT: caller is not a minter"
    assert receiver != empty(address), "PPT: mint to zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)
    return True


@external
def burn(amount: uint256) -> bool:
    """
    @notice Destroy tokens the caller (burner role) holds.
    """
    assert self.isBurner[msg.sender], "PPT: caller is not a burner"
    self._burn(msg.sender, amount)
    return True


@external
def burnFrom(account: address, amount: uint256) -> bool:
    """
    @notice Destroy tokens `account` allowed the caller (burner role) to spend.
    """
    assert self.isBurner[msg.sender], "PPT: caller is not a burner"
    self._spend_allowance(account, msg.sender, amount)
    self._burn(account, amount)
    return True


# --- Roles and ownership -------------------------------------------------------------------------------------------

@external
def setMinter(account: address, enabled: bool):
    self._only_owner()
    assert account != empty(address), "PPT: zero address"
    self.isMinter[account] = enabled
    log MinterSet(account=account, enabled=enabled)


@external
def setBurner(account: address, enabled: bool):
    self._only_owner()
    assert account != empty(address), "PPT: zero address"
    self.isBurner[account] = enabled
    log BurnerSet(account=account, enabled=enabled)


@external
def transferOwnership(new_owner: address):
    """
    @notice Propose a new owner; ownership moves only when it calls `acceptOwnership`, so a mistyped address
            cannot lock the roles for ever.
    """
    self._only_owner()
    self.pendingOwner = new_owner
    log OwnershipTransferStarted(previous_owner=self.owner, new_owner=new_owner)


@external
def acceptOwnership():
    assert msg.sender == self.pendingOwner, "PPT: caller is not the pending owner"
    previous: address = self.owner
    self.owner = msg.sender
    self.pendingOwner = empty(address)
    log OwnershipTransferred(previous_owner=previous, new_owner=msg.sender)


# --- Internal ------------------------------------------------------------------------------------------------------

@internal
def _only_owner():
    assert msg.sender == self.owner, "PPT: caller is not the owner"


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "PPT: transfer to zero address"
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@internal
def _spend_allowance(owner: address, spender: address, amount: uint256):
    allowed: uint256 = self.allowance[owner][spender]
    # The maximum allowance is "unlimited" and is not spent down, as in most ERC20s.
    if allowed != max_value(uint256):
        self.allowance[owner][spender] = allowed - amount


@internal
def _burn(account: address, amount: uint256):
    self.balanceOf[account] -= amount
    self.totalSupply -= amount
    log Transfer(sender=account, receiver=empty(address), value=amount)
