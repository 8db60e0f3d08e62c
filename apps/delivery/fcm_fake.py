"""A local stand-in for Firebase Cloud Messaging, speaking FCM HTTP v1 and Google's OAuth token endpoint.

The real firebase-admin client talks to it over HTTP, so tests, the local demo and the fleet simulator run the same
code as production without a Firebase account:

- `POST /token` — the OAuth 2.0 token endpoint google-auth calls with a service account's signed JWT assertion
  (RFC 7523). The assertion's signature is checked against the keys of service accounts this fake wrote (or was
  given with `accept_service_account`), and an access token is issued.
- `POST /v1/projects/{project}/messages:send` — FCM's send. Requires a bearer token this fake issued, validates the
  message like FCM does (one target, string data, TTL format, reserved keys), records it, and answers as FCM would:
  `{"name": "projects/{project}/messages/{n}"}`, or Google's JSON error body with `status` and the FCM error detail
  (`type.googleapis.com/google.firebase.fcm.v1.FcmError` with `errorCode`) that firebase-admin parses into its
  exception types.

It can be told to fail: a token permanently (`fail_token`, e.g. a dead token), or the next N sends whatever their
token (`fail_next`, transient trouble), and to answer slowly (`latency_seconds`). The real clients react to some
answers by themselves, so one push can arrive several times: firebase-admin retries 500 and 503 answers, and
google-auth fetches a new access token and retries after a 401 (THIRD_PARTY_AUTH_ERROR is one too).

    with FcmFake() as fake:
        fake.write_service_account(path)  # then FCM_CREDENTIALS_FILE=path, FCM_ENDPOINT=fake.endpoint
        ...
        fake.messages  # every message received, with what it was answered

`manage.py fcm_fake` runs one standalone. It binds to loopback by default; it is a test double, not a server to
expose.
"""

import json
import logging
import re
import secrets
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import exceptions as google_auth_exceptions
from google.auth import jwt

from apps.core.fakes import FakeRequestHandler, LoopbackFake

# FCM refuses a data payload over 4,096 bytes (what the push types hold requests to, apps.delivery.push.types).
DATA_LIMIT_BYTES = 4096

logger = logging.getLogger("peerpower.fcm_fake")

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# google-auth addresses its assertions to Google's token endpoint whatever `token_uri` says.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
SEND_PATH = re.compile(r"^/v1/projects/(?P<project>[^/]+)/messages:send$")
TTL_FORMAT = re.compile(r"^\d+(\.\d{1,9})?s$")
ACCESS_TOKEN_SECONDS = 3600


@dataclass(frozen=True)
class FcmErrorAnswer:
    """How FCM answers one of its error codes: HTTP status, Google RPC status and a message like the real one."""

    http_status: int
    status: str
    message: str


# https://firebase.google.com/docs/reference/fcm/rest/v1/ErrorCode
FCM_ERRORS: dict[str, FcmErrorAnswer] = {
    "UNSPECIFIED_ERROR": FcmErrorAnswer(500, "UNKNOWN", "Unknown error."),
    "INVALID_ARGUMENT": FcmErrorAnswer(
        400, "INVALID_ARGUMENT", "The registration token is not a valid FCM registration token"
    ),
    "UNREGISTERED": FcmErrorAnswer(404, "NOT_FOUND", "Requested entity was not found."),
    "SENDER_ID_MISMATCH": FcmErrorAnswer(403, "PERMISSION_DENIED", "SenderId mismatch"),
    "QUOTA_EXCEEDED": FcmErrorAnswer(
        429, "RESOURCE_EXHAUSTED", "Quota exceeded for quota metric 'Send requests' of service fcm.googleapis.com."
    ),
    "UNAVAILABLE": FcmErrorAnswer(503, "UNAVAILABLE", "The service is currently unavailable."),
    "INTERNAL": FcmErrorAnswer(500, "INTERNAL", "Internal error encountered."),
    "THIRD_PARTY_AUTH_ERROR": FcmErrorAnswer(401, "UNAUTHENTICATED", "Auth error from APNS or Web Push Service"),
}


@dataclass(frozen=True)
class Failure:
    """An error the fake has been told to answer with."""

    error_code: str
    message: str | None = None
    retry_after_seconds: int | None = None

    def __post_init__(self) -> None:
        if self.error_code not in FCM_ERRORS:
            raise ValueError(f"Unknown FCM error code {self.error_code!r}; one of {', '.join(FCM_ERRORS)}.")


@dataclass(frozen=True)
class ReceivedMessage:
    """One send request as the fake received it (`headers` with lower-case names), and what it answered."""

    project_id: str
    body: dict[str, Any]
    http_status: int
    error_code: str | None
    message_id: str | None
    headers: dict[str, str] = field(repr=False)

    @property
    def message(self) -> dict[str, Any]:
        return self.body.get("message") or {}

    @property
    def token(self) -> str | None:
        return self.message.get("token")

    @property
    def data(self) -> dict[str, str] | None:
        return self.message.get("data")

    @property
    def android(self) -> dict[str, Any] | None:
        return self.message.get("android")

    @property
    def accepted(self) -> bool:
        return self.http_status == HTTPStatus.OK


def generate_service_account(*, token_uri: str, project_id: str, client_email: str | None = None) -> dict[str, str]:
    """A Google service-account key file's contents, with a freshly generated RSA key.

    `token_uri` is where google-auth will fetch access tokens: point it at a fake's `/token`.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    client_email = client_email or f"fcm-fake@{project_id}.iam.gserviceaccount.com"
    return {
        "type": "service_account",
        "project_id": project_id,
        "private_key_id": secrets.token_hex(20),
        "private_key": private_pem,
        "client_email": client_email,
        "client_id": str(secrets.randbelow(10**21)),
        "auth_uri": "https://accounts.google.com/o/oauth2/auth",
        "token_uri": token_uri,
        "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
        "client_x509_cert_url": f"https://www.googleapis.com/robot/v1/metadata/x509/{client_email}",
        "universe_domain": "googleapis.com",
    }


def write_service_account(
    path: str | Path, *, token_uri: str, project_id: str, client_email: str | None = None
) -> Path:
    """Writes a service-account JSON file, readable by its owner only as a key should be. For a file that a running
    fake accepts, use `FcmFake.write_service_account`."""
    info = generate_service_account(token_uri=token_uri, project_id=project_id, client_email=client_email)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(json.dumps(info, indent=2))
    return path


class FcmFake(LoopbackFake):
    """The fake FCM server (its `endpoint` is what FCM_ENDPOINT takes). Thread-safe: tests configure and read it
    while its handler threads answer."""

    def __init__(
        self, *, project_id: str = "peerpower-local", host: str = "127.0.0.1", port: int = 0, latency_seconds: float = 0
    ) -> None:
        self.project_id = project_id
        self.latency_seconds = latency_seconds
        super().__init__(handler=_Handler, name="fcm-fake", host=host, port=port)
        self._lock = threading.Lock()
        self._public_keys: dict[str, bytes] = {}  # private_key_id (the JWT's kid) -> public key PEM
        self._access_tokens: dict[str, float] = {}  # token -> expiry (monotonic)
        self._token_grants = 0
        self._token_failures: dict[str, Failure] = {}
        self._next_failures: deque[Failure] = deque()
        self._messages: list[ReceivedMessage] = []
        self._sent_count = 0

    @property
    def token_uri(self) -> str:
        return f"{self.endpoint}/token"

    # --- credentials --------------------------------------------------------------------------------------------------
    def write_service_account(self, path: str | Path, *, client_email: str | None = None) -> Path:
        """A service-account file whose `token_uri` is this fake and whose key this fake accepts."""
        written = write_service_account(
            path, token_uri=self.token_uri, project_id=self.project_id, client_email=client_email
        )
        self.accept_service_account(written)
        return written

    def accept_service_account(self, path: str | Path) -> bool:
        """Accepts the key of an existing service-account file if it names this fake's token endpoint (a fake
        restarted on the same port keeps working for apps that loaded the file). False if it cannot be used."""
        try:
            info = json.loads(Path(path).read_text())
            if info.get("token_uri") != self.token_uri:
                return False
            key = serialization.load_pem_private_key(info["private_key"].encode(), password=None)
            key_id = info["private_key_id"]
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return False
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with self._lock:
            self._public_keys[key_id] = public_pem
        return True

    @property
    def token_grants(self) -> int:
        """How many access tokens the token endpoint has issued."""
        with self._lock:
            return self._token_grants

    def revoke_access_tokens(self) -> None:
        """Every access token issued so far stops working (as when Google rotates or revokes them)."""
        with self._lock:
            self._access_tokens.clear()

    # --- failures -----------------------------------------------------------------------------------------------------
    def fail_token(
        self, token: str, error_code: str, *, message: str | None = None, retry_after_seconds: int | None = None
    ) -> None:
        """Every send to `token` is answered with this error until `heal_token` (e.g. UNREGISTERED: a dead token)."""
        failure = Failure(error_code, message, retry_after_seconds)
        with self._lock:
            self._token_failures[token] = failure

    def heal_token(self, token: str) -> None:
        with self._lock:
            self._token_failures.pop(token, None)

    def fail_next(
        self,
        error_code: str,
        *,
        count: int = 1,
        message: str | None = None,
        retry_after_seconds: int | None = None,
    ) -> None:
        """The next `count` sends, whatever their token, are answered with this error (transient trouble).

        Queued behind failures queued earlier. Note that firebase-admin itself retries 500 and 503 answers
        (INTERNAL, UNAVAILABLE, UNSPECIFIED_ERROR) up to 4 times, so those consume several entries per send.
        """
        failure = Failure(error_code, message, retry_after_seconds)
        with self._lock:
            self._next_failures.extend([failure] * count)

    # --- what was received --------------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every send request received, in order, whatever it was answered."""
        with self._lock:
            return list(self._messages)

    @property
    def accepted(self) -> list[ReceivedMessage]:
        """The messages answered with success: what FCM would have delivered."""
        return [message for message in self.messages if message.accepted]

    def reset(self) -> None:
        """Forgets messages, failures and latency; keeps the service accounts it knows and the tokens it issued."""
        with self._lock:
            self._messages.clear()
            self._token_failures.clear()
            self._next_failures.clear()
            self._token_grants = 0
            self._sent_count = 0
            self.latency_seconds = 0

    # --- request handling (called from handler threads) ------------------------------------------------------------
    def _grant_token(self, form: dict[str, list[str]]) -> tuple[int, dict[str, Any]]:
        if form.get("grant_type") != [JWT_BEARER_GRANT] or len(form.get("assertion", [])) != 1:
            return 400, {"error": "unsupported_grant_type", "error_description": "Invalid grant_type."}
        assertion = form["assertion"][0]
        try:
            key_id = jwt.decode_header(assertion).get("kid")
            with self._lock:
                public_key = self._public_keys.get(key_id)
            if public_key is None:
                raise ValueError(f"no service-account key {key_id!r} is known here")
            claims = jwt.decode(assertion, certs=public_key, audience=[GOOGLE_TOKEN_AUDIENCE, self.token_uri])
        except (ValueError, google_auth_exceptions.GoogleAuthError) as error:
            return 400, {"error": "invalid_grant", "error_description": f"Invalid JWT Signature: {error}"}
        if not claims.get("scope"):
            return 400, {"error": "invalid_scope", "error_description": "Empty or missing scope not allowed."}
        access_token = f"ya29.fake-{secrets.token_urlsafe(32)}"
        with self._lock:
            self._access_tokens[access_token] = time.monotonic() + ACCESS_TOKEN_SECONDS
            self._token_grants += 1
        return 200, {"access_token": access_token, "expires_in": ACCESS_TOKEN_SECONDS, "token_type": "Bearer"}

    def _send(self, project_id: str, body: Any, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
        """Answers one send and records it; returns (HTTP status, JSON body, extra headers). `headers` has
        lower-case names."""
        message = body.get("message") if isinstance(body, dict) else None
        problem = _invalid_message(message)
        with self._lock:
            if not self._authorized_locked(headers.get("authorization", "")):
                # Google's answer to a missing or unknown access token; no FCM detail, as with the real service.
                answer = _google_error(
                    401,
                    "UNAUTHENTICATED",
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
                    "other valid authentication credential.",
                )
            elif project_id != self.project_id:
                answer = _google_error(
                    403, "PERMISSION_DENIED", f"Permission 'cloudmessaging.messages.create' denied on {project_id}"
                )
            elif problem:
                field_name, description = problem
                answer = _fcm_error("INVALID_ARGUMENT", description, field=field_name)
            elif self._next_failures:
                answer = _answer_failure(self._next_failures.popleft())
            elif message.get("token") in self._token_failures:
                answer = _answer_failure(self._token_failures[message["token"]])
            elif body.get("validate_only"):
                # FCM's dry run validates without sending and names no real message.
                answer = (200, {"name": f"projects/{project_id}/messages/fake_message_id"}, {})
            else:
                self._sent_count += 1
                answer = (200, {"name": f"projects/{project_id}/messages/{self._sent_count}"}, {})
            status, response, _ = answer
            details = response.get("error", {}).get("details", [])
            received = ReceivedMessage(
                project_id=project_id,
                body=body if isinstance(body, dict) else {},
                http_status=status,
                error_code=next((d["errorCode"] for d in details if d["@type"] == FCM_ERROR_TYPE), None),
                message_id=response.get("name"),
                headers=headers,
            )
            self._messages.append(received)
        logger.info(
            "FCM fake received a message for token=%s data=%s android=%s: answered %s %s",
            received.token,
            received.data,
            received.android,
            status,
            received.error_code or received.message_id or response["error"]["status"],
        )
        # Slow after receiving, as a congested FCM is: a client that gives up has still sent the message.
        latency = self.latency_seconds
        if latency:
            time.sleep(latency)
        return answer

    def _authorized_locked(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        expiry = self._access_tokens.get(token)
        return scheme.lower() == "bearer" and expiry is not None and expiry > time.monotonic()


def _google_error(
    http_status: int, status: str, message: str, details: list[dict] | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    error = {"code": http_status, "message": message, "status": status}
    if details:
        error["details"] = details
    return http_status, {"error": error}, {}


def _fcm_error(
    error_code: str, message: str | None = None, *, field: str | None = None
) -> tuple[int, dict[str, Any], dict[str, str]]:
    answer = FCM_ERRORS[error_code]
    message = message or answer.message
    details: list[dict] = [{"@type": FCM_ERROR_TYPE, "errorCode": error_code}]
    if field:
        details.append({"@type": BAD_REQUEST_TYPE, "fieldViolations": [{"field": field, "description": message}]})
    return _google_error(answer.http_status, answer.status, message, details)


def _answer_failure(failure: Failure) -> tuple[int, dict[str, Any], dict[str, str]]:
    status, body, headers = _fcm_error(failure.error_code, failure.message)
    if failure.retry_after_seconds is not None:
        headers = {"Retry-After": str(failure.retry_after_seconds)}
    return status, body, headers


def _invalid_message(message: Any) -> tuple[str, str] | None:
    """What FCM would refuse in this message, as (field, description); None when it is valid."""
    if not isinstance(message, dict):
        return "message", "Request contains an invalid argument."
    targets = [name for name in ("token", "fid", "topic", "condition") if message.get(name)]
    if len(targets) != 1:
        return "message", "Exactly one of token, fid, topic or condition must be specified."
    data = message.get("data", {})
    if not isinstance(data, dict):
        return "message.data", "Invalid value at 'message.data'"
    for key, value in data.items():
        if not isinstance(value, str):
            return f"message.data[{key}]", f"Invalid value at 'message.data[{key}].value' (TYPE_STRING)"
        if key in ("from", "notification", "message_type") or key.startswith(("google", "gcm")):
            return f"message.data[{key}]", f"Invalid data payload key: {key}"
    if len(json.dumps(data, ensure_ascii=False).encode()) > DATA_LIMIT_BYTES:
        return "message", "Android message is too big"  # FCM's 4,096 bytes of data
    android = message.get("android", {})
    if not isinstance(android, dict):
        return "message.android", "Invalid value at 'message.android'"
    if "ttl" in android and not (isinstance(android["ttl"], str) and TTL_FORMAT.match(android["ttl"])):
        return "message.android.ttl", "Invalid value at 'message.android.ttl' (type.googleapis.com/Duration)"
    if "priority" in android and str(android["priority"]).upper() not in ("NORMAL", "HIGH"):
        return "message.android.priority", "Invalid value at 'message.android.priority'"
    return None


class _Handler(FakeRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as firebase-admin's pooled session expects of Google
    server_version = "FcmFake"
    # An answer goes out in two writes (headers, then body): with Nagle's algorithm the body would wait for the
    # client's delayed ACK, about 40 ms per push on a kept-alive connection.
    disable_nagle_algorithm = True

    @property
    def fake(self) -> FcmFake:
        return self.server.fake

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urllib.parse.urlsplit(self.path).path
        if path == "/token":
            status, body = self.fake._grant_token(urllib.parse.parse_qs(raw.decode()))
            self._reply(status, body)
            return
        match = SEND_PATH.match(path)
        if not match:
            self._reply(*_google_error(404, "NOT_FOUND", f"The requested URL {path} was not found on this server."))
            return
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            self._reply(*_google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received."))
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        self._reply(*self.fake._send(match["project"], body, headers))

    def _reply(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(body).encode(), "application/json; charset=UTF-8", headers)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("%s " + format, self.address_string(), *args)
