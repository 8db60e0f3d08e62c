"""A local EVM chain that speaks Ethereum JSON-RPC over HTTP: the development and test stand-in for Selendra.

Selendra is EVM-compatible (Frontier), so PeerPower talks to it only through JSON-RPC. This node runs py-evm (through
eth-tester) behind a small HTTP server, so tests, the simulator and `scripts/run` exercise the same web3 HTTP client,
signing, nonces, EIP-1559 fees and receipts as production, with no Node toolchain (`manage.py chain_node`, its own
process, like the FCM fake). What it adds to eth-tester:

- a configurable chain id (Selendra 1961, testnet 1953), checked by the client at start;
- automine (every transaction mined in its own block at once), or mining stopped (`miner_stop`): transactions then
  wait in a mempool that accepts a replacement for the same sender and nonce only when it raises both EIP-1559 fees by
  at least 10 % (geth's rule), until `evm_mine` or `miner_start`;
- pre-funded development accounts (eth-tester's: private keys 1, 2, 3, ... — well known, never for real funds);
- fault injection for tests: `latency_seconds`, and `fail_next(n, method)` answers the next n requests (of one
  method, or of any) with HTTP 503.

Controls are JSON-RPC methods too (`evm_mine`, `miner_stop`, `miner_start`, `dev_failNext`, `dev_setLatency`), so a
test can drive a node in another process. It binds to loopback by default; it is a test double, not a server to
expose. Its chain lives in memory: a restart starts from genesis.
"""

import json
import logging
import re
import threading
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from eth_abi import encode as abi_encode
from eth_tester import EthereumTester, PyEVMBackend
from eth_tester.exceptions import TransactionFailed, TransactionNotFound, ValidationError
from eth_utils import function_signature_to_4byte_selector, to_hex

logger = logging.getLogger("peerpower.chain_node")

# Geth's price bump for a replacement transaction (the client bumps by 12.5 %, like geth's own resend).
REPLACEMENT_MIN_BUMP_PERCENT = 10
_CAMEL = re.compile(r"_([a-z0-9])")
_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")
# Fields of a transaction object in a request that are quantities (hex) and eth-tester wants as integers.
_QUANTITY_FIELDS = {"gas", "gas_price", "value", "nonce", "max_fee_per_gas", "max_priority_fee_per_gas"}


class RpcError(Exception):
    """A JSON-RPC error answer: code, message and optional data, as a node sends them."""

    def __init__(self, code: int, message: str, data: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = data

    def as_json(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def _to_rpc(value: Any, key: str = "") -> Any:
    """eth-tester's Python values to JSON-RPC's: camelCase keys, integers as hex quantities, bytes as hex data."""
    if isinstance(value, dict):
        return {_CAMEL.sub(lambda m: m.group(1).upper(), k): _to_rpc(v, k) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_rpc(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if key == "logs_bloom":
        return "0x" + int(value).to_bytes(256, "big").hex() if isinstance(value, int) else value
    if isinstance(value, int):
        return hex(value)
    if isinstance(value, bytes):
        return to_hex(value)
    return value


def _tx_from_rpc(tx: dict[str, Any], default_sender: str) -> dict[str, Any]:
    """A transaction object of eth_call/eth_estimateGas to eth-tester's form. A call without a sender runs as
    `default_sender` (a funded development account: unlike geth, eth-tester makes the caller pay for the gas)."""
    out: dict[str, Any] = {}
    for key, value in tx.items():
        name = _SNAKE.sub("_", key).lower()
        if name in ("chain_id", "type", "access_list"):
            continue
        if name == "input":
            name = "data"
        out[name] = int(value, 16) if name in _QUANTITY_FIELDS and isinstance(value, str) else value
    out.setdefault("from", default_sender)
    return out


def _block_id(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("0x"):
        return int(value, 16)
    return value or "latest"


def _revert_error(error: TransactionFailed) -> RpcError:
    """A reverted call as geth answers it: code 3, "execution reverted: reason", data = Error(string)."""
    reason = str(error.args[0]) if error.args else ""
    if isinstance(error.args[0] if error.args else None, bytes):
        return RpcError(3, "execution reverted", to_hex(error.args[0]))
    reason = reason.removeprefix("execution reverted: ")
    data = to_hex(function_signature_to_4byte_selector("Error(string)") + abi_encode(["string"], [reason]))
    return RpcError(3, f"execution reverted: {reason}", data)


class DevChain:
    """eth-tester's py-evm chain with a chain id of our choosing and a mempool that knows replacement. Thread-safe."""

    def __init__(self, *, chain_id: int, automine: bool = True) -> None:
        backend = PyEVMBackend()
        # eth-tester fixes its chain id on the chain class; signatures (EIP-155) are checked against this attribute.
        backend.chain.chain_id = chain_id
        self.chain_id = chain_id
        self.backend = backend
        self.tester = EthereumTester(backend=backend, auto_mine_transactions=True)
        self.automine = automine
        self.caller = self.tester.get_accounts()[0]
        self._mempool: dict[tuple[str, int], tuple[str, Any]] = {}
        self._lock = threading.RLock()

    # --- mining and the mempool ---

    def _decode(self, raw: str) -> Any:
        return self.backend.chain.get_transaction_builder().decode(bytes.fromhex(raw.removeprefix("0x")))

    def send_raw_transaction(self, raw: str) -> str:
        with self._lock:
            try:
                tx = self._decode(raw)
            except Exception as error:
                raise RpcError(-32602, f"invalid raw transaction: {error}") from error
            if tx.chain_id != self.chain_id:
                raise RpcError(-32000, f"invalid chain id {tx.chain_id}: this chain is {self.chain_id}")
            sender = to_hex(tx.sender)
            chain_nonce = self.tester.get_nonce(sender, "latest")
            if tx.nonce < chain_nonce:
                raise RpcError(-32000, "nonce too low")
            if self.automine:
                return self._apply(raw)
            key = (sender, tx.nonce)
            held = self._mempool.get(key)
            if held is not None and held[0] != raw:
                old = held[1]
                floor = 100 + REPLACEMENT_MIN_BUMP_PERCENT
                if tx.max_fee_per_gas * 100 < old.max_fee_per_gas * floor or (
                    tx.max_priority_fee_per_gas * 100 < old.max_priority_fee_per_gas * floor
                ):
                    raise RpcError(-32000, "replacement transaction underpriced")
            self._mempool[key] = (raw, tx)
            return to_hex(tx.hash)

    def _apply(self, raw: str) -> str:
        try:
            return self.tester.send_raw_transaction(raw)
        except TransactionFailed as error:
            raise _revert_error(error) from error
        except ValidationError as error:
            raise RpcError(-32000, str(error)) from error

    def mine(self) -> int:
        """Mine what the mempool holds (in nonce order per sender) and return the head's number."""
        with self._lock:
            held = sorted(self._mempool.items(), key=lambda item: (item[0][0], item[0][1]))
            self._mempool.clear()
            for _, (raw, _tx) in held:
                try:
                    self._apply(raw)
                except RpcError as error:
                    logger.warning("chain_node: dropped a held transaction: %s", error.message)
            if not held:
                self.tester.mine_blocks(1)
            return self.block_number()

    def set_automine(self, enabled: bool) -> None:
        with self._lock:
            self.automine = enabled
            if enabled:
                self.mine()

    def block_number(self) -> int:
        return self.tester.get_block_by_number("latest")["number"]

    def pending_nonce(self, address: str) -> int:
        with self._lock:
            nonce = self.tester.get_nonce(address, "latest")
            for sender, held_nonce in self._mempool:
                if sender.lower() == address.lower():
                    nonce = max(nonce, held_nonce + 1)
            return nonce

    # --- JSON-RPC ---

    def call(self, method: str, params: list[Any]) -> Any:
        with self._lock:
            t = self.tester
            match method:
                case "web3_clientVersion":
                    return "PeerPowerDevChain/eth-tester-py-evm"
                case "net_version":
                    return str(self.chain_id)
                case "eth_chainId":
                    return hex(self.chain_id)
                case "eth_syncing":
                    return False
                case "eth_accounts":
                    return t.get_accounts()
                case "eth_blockNumber":
                    return hex(self.block_number())
                case "eth_getBlockByNumber":
                    return self._block(lambda: t.get_block_by_number(_block_id(params[0]), bool(params[1])))
                case "eth_getBlockByHash":
                    return self._block(lambda: t.get_block_by_hash(params[0], bool(params[1])))
                case "eth_getBalance":
                    return hex(t.get_balance(params[0], _block_id(params[1] if len(params) > 1 else None)))
                case "eth_getTransactionCount":
                    block = _block_id(params[1] if len(params) > 1 else None)
                    if block == "pending":
                        return hex(self.pending_nonce(params[0]))
                    return hex(t.get_nonce(params[0], block))
                case "eth_getCode":
                    return t.get_code(params[0], _block_id(params[1] if len(params) > 1 else None))
                case "eth_call":
                    try:
                        return t.call(
                            _tx_from_rpc(params[0], self.caller), _block_id(params[1] if len(params) > 1 else None)
                        )
                    except TransactionFailed as error:
                        raise _revert_error(error) from error
                case "eth_estimateGas":
                    try:
                        return hex(t.estimate_gas(_tx_from_rpc(params[0], self.caller)))
                    except TransactionFailed as error:
                        raise _revert_error(error) from error
                case "eth_sendRawTransaction":
                    return self.send_raw_transaction(params[0])
                case "eth_getTransactionByHash":
                    try:
                        return _to_rpc(t.get_transaction_by_hash(params[0]))
                    except TransactionNotFound:
                        return self._held_transaction(params[0])
                case "eth_getTransactionReceipt":
                    try:
                        receipt = t.get_transaction_receipt(params[0])
                    except TransactionNotFound:
                        return None
                    # eth-tester answers a receipt for a transaction of the block being built; a node does not.
                    return None if receipt.get("block_number") is None else _to_rpc(receipt)
                case "eth_gasPrice":
                    base = t.get_block_by_number("pending")["base_fee_per_gas"]
                    return hex(base + 10**9)
                case "eth_maxPriorityFeePerGas":
                    return hex(10**9)
                case "evm_mine":
                    return hex(self.mine())
                case "miner_stop":
                    self.set_automine(False)
                    return True
                case "miner_start":
                    self.set_automine(True)
                    return True
                case _:
                    raise RpcError(-32601, f"the method {method} does not exist/is not available")

    def _held_transaction(self, tx_hash: str) -> dict[str, Any] | None:
        """A transaction waiting in the mempool, as a node shows a pending one (no block yet)."""
        for _raw, tx in self._mempool.values():
            if to_hex(tx.hash) == tx_hash.lower():
                return _to_rpc(
                    {
                        "hash": tx.hash,
                        "type": 2,
                        "chain_id": tx.chain_id,
                        "from": to_hex(tx.sender),
                        "to": to_hex(tx.to) if tx.to else None,
                        "nonce": tx.nonce,
                        "gas": tx.gas,
                        "value": tx.value,
                        "input": tx.data,
                        "max_fee_per_gas": tx.max_fee_per_gas,
                        "max_priority_fee_per_gas": tx.max_priority_fee_per_gas,
                        "access_list": [],
                        "v": tx.y_parity,
                        "y_parity": tx.y_parity,
                        "r": tx.r,
                        "s": tx.s,
                        "block_hash": None,
                        "block_number": None,
                        "transaction_index": None,
                    }
                )
        return None

    @staticmethod
    def _block(fetch: Any) -> Any:
        try:
            return _to_rpc(fetch())
        except Exception:  # noqa: BLE001 - eth-tester raises BlockNotFound, ValidationError, ...: a node says null
            return None


class _Handler(BaseHTTPRequestHandler):
    server: "ChainNodeServer"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("chain_node: " + format, *args)

    def do_POST(self) -> None:
        node = self.server.node
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if node.latency_seconds:
            time.sleep(node.latency_seconds)
        try:
            request = json.loads(body)
        except ValueError:
            self._answer(
                HTTPStatus.OK, {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}}
            )
            return
        batch = isinstance(request, list)
        requests = request if batch else [request]
        methods = [str(r.get("method", "")) for r in requests if isinstance(r, dict)]
        if any(method.startswith("dev_") for method in methods):
            answers = [node.control(r) for r in requests]
        elif node.take_failure(methods):
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "injected failure"})
            return
        else:
            answers = [node.answer(r) for r in requests]
        self._answer(HTTPStatus.OK, answers if batch else answers[0])

    def _answer(self, status: HTTPStatus, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class ChainNodeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, node: "ChainNode", address: tuple[str, int]) -> None:
        self.node = node
        super().__init__(address, _Handler)


class ChainNode:
    """The HTTP JSON-RPC server around a `DevChain`, in a background thread.

    with ChainNode(chain_id=1953) as node:
        Web3(Web3.HTTPProvider(node.url))
    """

    def __init__(self, *, chain_id: int, host: str = "127.0.0.1", port: int = 0, automine: bool = True) -> None:
        self.chain = DevChain(chain_id=chain_id, automine=automine)
        self.latency_seconds = 0.0
        self._failures: dict[str, int] = {}
        self._failures_lock = threading.Lock()
        self._server = ChainNodeServer(self, (host, port))
        self._closed = False
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def fail_next(self, count: int, method: str = "") -> None:
        """Answer the next `count` requests (of `method`, or of any method but the controls) with HTTP 503, as an
        overloaded RPC endpoint does."""
        with self._failures_lock:
            self._failures[method] = count

    def take_failure(self, methods: list[str]) -> bool:
        with self._failures_lock:
            for key in (*methods, ""):
                if self._failures.get(key, 0) > 0:
                    self._failures[key] -= 1
                    return True
            return False

    def answer(self, request: Any) -> dict[str, Any]:
        if not isinstance(request, dict) or not isinstance(request.get("method"), str):
            return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "invalid request"}}
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id")}
        try:
            answer["result"] = self.chain.call(request["method"], list(request.get("params") or []))
        except RpcError as error:
            answer["error"] = error.as_json()
        except ValidationError as error:
            answer["error"] = {"code": -32602, "message": f"invalid params: {error}"}
        except Exception as error:
            logger.exception("chain_node: %s failed", request["method"])
            answer["error"] = {"code": -32603, "message": f"internal error: {error}"}
        return answer

    def control(self, request: dict[str, Any]) -> dict[str, Any]:
        params = list(request.get("params") or [])
        answer: dict[str, Any] = {"jsonrpc": "2.0", "id": request.get("id"), "result": True}
        if request.get("method") == "dev_failNext":
            self.fail_next(int(params[0]), str(params[1]) if len(params) > 1 else "")
        elif request.get("method") == "dev_setLatency":
            self.latency_seconds = float(params[0])
        else:
            return self.answer(request)
        return answer

    def start(self) -> "ChainNode":
        """Serve in a background thread. After `stop()` the same chain answers again on the same address (a node
        coming back after an outage, for tests of what happens meanwhile)."""
        if self._closed:
            self._server = ChainNodeServer(self, self._server.server_address[:2])
            self._closed = False
        self._thread = threading.Thread(target=self._server.serve_forever, name="chain-node", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop answering: connections are refused until `start()`. The chain keeps its state."""
        if self._closed:
            return
        self._server.shutdown()
        self._server.server_close()
        self._closed = True

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def __enter__(self) -> "ChainNode":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
