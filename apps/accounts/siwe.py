"""Sign-In with Ethereum (EIP-4361) messages: building the one we ask a wallet to sign, and checking what comes back.

The signature is an EIP-191 personal_sign of the exact message text, recovered with eth-account.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from apps.accounts.errors import WalletMessageMalformed, WalletSignatureInvalid

STATEMENT = "Bind this wallet to your PeerPower account to receive PPT."

_MESSAGE = re.compile(
    r"^(?P<domain>[^\s/]+) wants you to sign in with your Ethereum account:\n"
    r"(?P<address>0x[a-fA-F0-9]{40})\n\n"
    r"(?:(?P<statement>[^\n]+)\n\n)?"
    r"URI: (?P<uri>[^\n]+)\n"
    r"Version: (?P<version>1)\n"
    r"Chain ID: (?P<chain_id>[0-9]+)\n"
    r"Nonce: (?P<nonce>[a-zA-Z0-9]{8,})\n"
    r"Issued At: (?P<issued_at>[^\n]+)"
    r"(?:\nExpiration Time: (?P<expiration_time>[^\n]+))?"
    r"(?:\nNot Before: (?P<not_before>[^\n]+))?"
    r"(?:\nRequest ID: (?P<request_id>[^\n]*))?"
    r"(?:\nResources:(?P<resources>(?:\n- [^\n]+)*))?$"
)


@dataclass(frozen=True)
class SiweMessage:
    domain: str
    address: str
    uri: str
    chain_id: int
    nonce: str
    issued_at: datetime
    expiration_time: datetime | None


def build_message(
    *, domain: str, address: str, uri: str, chain_id: int, nonce: str, issued_at: datetime, expires_at: datetime
) -> str:
    return (
        f"{domain} wants you to sign in with your Ethereum account:\n{address}\n\n{STATEMENT}\n\n"
        f"URI: {uri}\nVersion: 1\nChain ID: {chain_id}\nNonce: {nonce}\n"
        f"Issued At: {_iso(issued_at)}\nExpiration Time: {_iso(expires_at)}"
    )


def parse_message(text: str) -> SiweMessage:
    match = _MESSAGE.match(text or "")
    if not match or not is_address(match["address"]):
        raise WalletMessageMalformed()
    try:
        issued_at = _parse_time(match["issued_at"])
        expiration = _parse_time(match["expiration_time"]) if match["expiration_time"] else None
    except ValueError:
        raise WalletMessageMalformed(details={"field": "time"}) from None
    return SiweMessage(
        domain=match["domain"],
        address=to_checksum_address(match["address"]),
        uri=match["uri"],
        chain_id=int(match["chain_id"]),
        nonce=match["nonce"],
        issued_at=issued_at,
        expiration_time=expiration,
    )


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address that signed `text` (EIP-191); WalletSignatureInvalid if it cannot be recovered."""
    try:
        return to_checksum_address(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception:  # noqa: BLE001 - eth-account raises several types for malformed signatures
        raise WalletSignatureInvalid() from None


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("EIP-4361 times carry a time zone")
    return parsed
