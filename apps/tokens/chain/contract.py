"""The PeerPower Token contract's committed build: ABI and bytecode compiled offline from `contracts/*.vy`.

Nothing compiles at run time: production loads `PeerPowerToken.json`. `manage.py chain_compile` rewrites it after the
source changes (with the pinned `vyper` package), and a test checks that recompiling the source reproduces it byte for
byte, so the committed bytecode is the one the reviewed source gives.
"""

import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CONTRACTS_DIR = Path(__file__).resolve().parent / "contracts"
TOKEN_SOURCE = CONTRACTS_DIR / "PeerPowerToken.vy"
TOKEN_ARTIFACT = CONTRACTS_DIR / "PeerPowerToken.json"
# The most recipients one mintBatch/transferBatch takes (MAX_BATCH in the source).
MAX_BATCH = 500
# The ledger keeps PPT in 10⁻⁶ units, the contract in 10⁻¹⁸ (18 decimals).
UNITS_PER_LEDGER_UNIT = 10**12


@dataclass(frozen=True)
class Artifact:
    abi: list[dict[str, Any]]
    bytecode: str
    compiler: str
    source_sha256: str


def compile_token(source_path: Path = TOKEN_SOURCE) -> dict[str, Any]:
    """Compile the Vyper source (needs the `vyper` package, a development dependency) into the artifact's content."""
    import vyper

    source = source_path.read_text()
    output = vyper.compile_code(source, contract_path=source_path.name, output_formats=["abi", "bytecode"])
    return {
        "contract": "PeerPowerToken",
        "compiler": f"vyper {vyper.__version__}",
        "source": f"contracts/{source_path.name}",
        "source_sha256": hashlib.sha256(source.encode()).hexdigest(),
        "abi": output["abi"],
        "bytecode": output["bytecode"],
    }


def artifact_text(content: dict[str, Any]) -> str:
    """The artifact as committed: stable key order and indentation, so a recompile diffs cleanly."""
    return json.dumps(content, indent=1, sort_keys=True) + "\n"


@cache
def token_artifact() -> Artifact:
    content = json.loads(TOKEN_ARTIFACT.read_text())
    return Artifact(
        abi=content["abi"],
        bytecode=content["bytecode"],
        compiler=content["compiler"],
        source_sha256=content["source_sha256"],
    )


def to_chain_units(ledger_amount: int) -> int:
    """Ledger units (10⁻⁶ PPT) to the token's base units (10⁻¹⁸ PPT)."""
    return ledger_amount * UNITS_PER_LEDGER_UNIT
