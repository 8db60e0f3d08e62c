"""The FCM push backend: firebase-admin over FCM HTTP v1.

Configuration (settings, from the environment): FCM_CREDENTIALS_FILE (service-account JSON; google-auth fetches
access tokens from its `token_uri`), FCM_PROJECT_ID (default: the service account's project), FCM_ENDPOINT
(Google's by default; the local fake's for tests and the demo) and FCM_TIMEOUT_SECONDS per HTTP request.

firebase-admin retries by itself before an error reaches us, and offers no option to change how: once on a
connection or read error (so a timeout costs up to twice FCM_TIMEOUT_SECONDS, and FCM may have received both
copies), and up to 4 times on HTTP 500/503 (INTERNAL, UNAVAILABLE) with backoff of 0, 1, 2 and 4 s. When FCM sends
Retry-After with a 429 or 503, it sleeps that long between those retries instead, so one push can hold its thread
for 4 x Retry-After. A RETRYABLE result has therefore already been retried at the HTTP level; the caller's own
retries should back off for longer, and its time limits allow for the waits.
"""

import concurrent.futures
import email.utils
import functools
import json
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import firebase_admin
from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from firebase_admin import _http_client as firebase_http_client
from firebase_admin import credentials, exceptions, messaging
from google.auth import exceptions as google_auth_exceptions
from requests import PreparedRequest, Response
from requests import adapters as requests_adapters
from requests import exceptions as requests_exceptions
from requests.structures import CaseInsensitiveDict
from urllib3 import exceptions as urllib3_exceptions

from apps.delivery.push.backends import PushBackend
from apps.delivery.push.types import PushOutcome, PushRequest, PushResult

# Our own firebase_admin app, so nothing else in the process (the default app, another library) shares or
# reconfigures it.
APP_NAME = "peerpower-push"
GOOGLE_FCM_ENDPOINT = "https://fcm.googleapis.com"

FCM_ERROR_TYPE = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
BAD_REQUEST_TYPE = "type.googleapis.com/google.rpc.BadRequest"
DEAD_TOKEN_CODES = frozenset({"UNREGISTERED", "SENDER_ID_MISMATCH"})
RETRYABLE_CODES = frozenset(
    {"QUOTA_EXCEEDED", "UNAVAILABLE", "INTERNAL", "TIMEOUT", "CONNECTION_ERROR", "AUTH_UNAVAILABLE"}
)


# --- Pointing firebase-admin at FCM_ENDPOINT --------------------------------------------------------------------------
# firebase-admin for Python has no option for the FCM URL (unlike the Go Admin SDK's option.WithEndpoint), and no
# emulator variable for messaging (only for auth and the database). Each messaging service copies the URL template
# from this class attribute once, when it is created at an app's first send. So it is set just before our app is
# (re)created, and differs from Google's only when FCM_ENDPOINT does — production never changes it. It is
# process-wide: another firebase_admin app in the process would follow it too (there is none).
_MESSAGING_SERVICE = messaging._MessagingService
_GOOGLE_FCM_URL = _MESSAGING_SERVICE.FCM_URL


def _point_firebase_admin_at(endpoint: str) -> None:
    if "{0}" not in getattr(_MESSAGING_SERVICE, "FCM_URL", ""):
        # An upgrade moved it: refuse, rather than have tests and the demo send to Google.
        raise ImproperlyConfigured("This firebase-admin has no _MessagingService.FCM_URL; FCM_ENDPOINT cannot apply.")
    if endpoint == GOOGLE_FCM_ENDPOINT:
        _MESSAGING_SERVICE.FCM_URL = _GOOGLE_FCM_URL
    else:
        _MESSAGING_SERVICE.FCM_URL = f"{endpoint}/v1/projects/{{0}}/messages:send"


# --- Our firebase_admin app -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FcmConfig:
    credentials_file: str
    project_id: str
    endpoint: str
    timeout_seconds: float

    @classmethod
    def from_settings(cls) -> "FcmConfig":
        return cls(
            credentials_file=settings.FCM_CREDENTIALS_FILE,
            project_id=settings.FCM_PROJECT_ID,
            endpoint=settings.FCM_ENDPOINT.rstrip("/"),
            timeout_seconds=settings.FCM_TIMEOUT_SECONDS,
        )


def _initialize_app(config: FcmConfig) -> firebase_admin.App:
    if not config.credentials_file:
        raise ImproperlyConfigured("PUSH_BACKEND=fcm needs FCM_CREDENTIALS_FILE (a service-account JSON file).")
    try:
        credential = credentials.Certificate(config.credentials_file)
    except (OSError, ValueError) as error:
        raise ImproperlyConfigured(
            f"FCM_CREDENTIALS_FILE {config.credentials_file!r} is not a readable service-account file: {error}"
        ) from error
    if not (config.project_id or credential.project_id):
        raise ImproperlyConfigured("Set FCM_PROJECT_ID: the service-account file names no project.")
    options: dict[str, Any] = {"httpTimeout": config.timeout_seconds}
    if config.project_id:
        options["projectId"] = config.project_id
    _point_firebase_admin_at(config.endpoint)
    app = firebase_admin.initialize_app(credential, options, name=APP_NAME)
    _pool_connections_like_google(app, config.endpoint)
    _read_environment_once(app, config.endpoint)
    return app


def _read_environment_once(app: firebase_admin.App, endpoint: str) -> None:
    # A requests session that trusts the environment looks up the proxy variables (scanning all of os.environ, twice),
    # .netrc and the CA-bundle variables again on every request: a fifth of a push's time in a profile against the fake.
    # Read them once, when the app is created (per process, and again when the FCM settings change), and give them to
    # the session, which then no longer reads the environment. Private API: skipped if an upgrade moves it.
    try:
        session = messaging._get_messaging_service(app)._client.session
    except AttributeError:
        return
    # What requests itself would take from the environment for this URL (proxies, CA bundle), computed once.
    environment = session.merge_environment_settings(f"{endpoint}/v1/", {}, None, None, None)
    session.proxies.update(environment["proxies"])
    session.verify = environment["verify"]
    session.trust_env = False  # the Authorization header is google-auth's: .netrc has nothing to add


def _pool_connections_like_google(app: firebase_admin.App, endpoint: str) -> None:
    # firebase-admin keeps 100 pooled connections for Google's FCM URL only (an adapter mounted on that URL); any
    # other endpoint gets requests' default of 10, so a batch of 100 to the local fake would open 90 throwaway
    # connections. Give FCM_ENDPOINT the same pool, so tests and benchmarks talk to the fake as production talks to
    # FCM. Private API: skipped if an upgrade moves it (only the fake's connection reuse suffers).
    if endpoint == GOOGLE_FCM_ENDPOINT:
        return
    try:
        session = messaging._get_messaging_service(app)._client.session
        retries = firebase_admin._http_client.DEFAULT_RETRY_CONFIG
    except AttributeError:
        return
    session.mount(endpoint, requests_adapters.HTTPAdapter(pool_connections=100, pool_maxsize=100, max_retries=retries))


class _AppHolder:
    """One firebase_admin app per process, created at first use (so a Celery worker creates its own after the fork)
    and again if the FCM settings change (tests point it at different servers)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._app: firebase_admin.App | None = None
        self._config: FcmConfig | None = None

    def get(self) -> firebase_admin.App:
        config = FcmConfig.from_settings()
        with self._lock:
            if self._app is None or self._config != config:
                if self._app is not None:
                    firebase_admin.delete_app(self._app)
                    self._app = None
                self._app = _initialize_app(config)
                self._config = config
            return self._app


firebase_app = _AppHolder().get


# --- Messages and results ---------------------------------------------------------------------------------------------
def build_message(request: PushRequest) -> messaging.Message:
    """Data-only (no `notification`, so the app's own code handles it even in the background), Android priority high
    (a data message may wake the phone from Doze only at high priority), TTL the time left on the lease."""
    return messaging.Message(
        token=request.token,
        data=dict(request.data),
        android=messaging.AndroidConfig(priority="high", ttl=request.ttl_seconds, collapse_key=request.collapse_key),
    )


def _error_body(response: Response | None) -> dict[str, Any]:
    if response is None:
        return {}
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _retry_after_seconds(response: Response | None) -> float | None:
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    if value.strip().isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _auth_error_code(error: google_auth_exceptions.GoogleAuthError) -> str:
    # The OAuth token endpoint: unreachable or failing (worth retrying), or refusing our credentials (not).
    if isinstance(error, google_auth_exceptions.TransportError) or getattr(error, "retryable", False):
        return "AUTH_UNAVAILABLE"
    return "AUTH_FAILED"


def result_for_error(error: Exception, *, latency_seconds: float) -> PushResult:
    """Classifies an error from firebase-admin (or google-auth, which it lets through) into a PushResult."""
    response = error.http_response if isinstance(error, exceptions.FirebaseError) else None
    cause = error.cause if isinstance(error, exceptions.FirebaseError) else error
    body = _error_body(response)
    details = body.get("details") or []
    fcm_code = next((d.get("errorCode") for d in details if d.get("@type") == FCM_ERROR_TYPE), None)
    if fcm_code:
        code = fcm_code
    elif response is None and _timed_out(cause):
        code = "TIMEOUT"
    elif response is None and isinstance(cause, requests_exceptions.ConnectionError):
        code = "CONNECTION_ERROR"
    elif isinstance(cause, google_auth_exceptions.GoogleAuthError):
        code = _auth_error_code(cause)
    elif isinstance(error, exceptions.FirebaseError):
        code = error.code  # the platform status: UNAUTHENTICATED, PERMISSION_DENIED, UNKNOWN…
    else:
        code = "UNKNOWN"

    if code in DEAD_TOKEN_CODES or (code == "INVALID_ARGUMENT" and _about_the_token(str(error), details)):
        outcome = PushOutcome.TOKEN_DEAD
    elif code in RETRYABLE_CODES:
        outcome = PushOutcome.RETRYABLE
    else:
        outcome = PushOutcome.FAILED
    return PushResult(
        outcome=outcome,
        error_code=code,
        latency_seconds=latency_seconds,
        retry_after_seconds=_retry_after_seconds(response),
        detail=str(error)[:500],
    )


def _timed_out(error: BaseException | None) -> bool:
    if isinstance(error, requests_exceptions.Timeout):
        return True
    if not isinstance(error, requests_exceptions.ConnectionError) or not error.args:
        return False
    # After firebase-admin's retry on a read timeout, requests reports a ConnectionError wrapping urllib3's
    # MaxRetryError, whose `reason` is the last error. urllib3 files a refused connection under timeouts too.
    reason = getattr(error.args[0], "reason", None)
    return isinstance(reason, urllib3_exceptions.TimeoutError) and not isinstance(
        reason, urllib3_exceptions.NewConnectionError
    )


def _about_the_token(message: str, details: list[dict]) -> bool:
    """INVALID_ARGUMENT covers both a malformed token and a malformed message. FCM tells them apart only in words
    ("The registration token is not a valid FCM registration token") and sometimes in a field violation."""
    for detail in details:
        if detail.get("@type") == BAD_REQUEST_TYPE:
            if any(violation.get("field") == "message.token" for violation in detail.get("fieldViolations", [])):
                return True
    return "registration token" in message.lower()


# --- The send pool ----------------------------------------------------------------------------------------------------
class _SendPool:
    """One bounded thread pool per process for the pushes' HTTP calls, reused by every batch: firebase-admin's
    `send_each` starts a ThreadPoolExecutor with a thread per message on every call. Created at first use, and again
    in a forked child (a Celery prefork worker's pool process does not inherit the parent's threads) or when
    FCM_PUSH_THREADS changes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._key: tuple[int, int] | None = None

    def get(self) -> concurrent.futures.ThreadPoolExecutor:
        key = (os.getpid(), max(1, settings.FCM_PUSH_THREADS))
        with self._lock:
            if self._executor is None or self._key != key:
                if self._executor is not None and self._key is not None and self._key[0] == key[0]:
                    self._executor.shutdown(wait=False)
                self._executor = concurrent.futures.ThreadPoolExecutor(
                    max_workers=key[1], thread_name_prefix="fcm-push"
                )
                self._key = key
            return self._executor


send_pool = _SendPool().get


class FcmPushBackend(PushBackend):
    """Sends through firebase-admin to FCM (or to the local fake FCM_ENDPOINT names)."""

    # Pushes per batch handed to the send pool at once (the pool itself bounds how many are in flight).
    chunk_size = 100

    @classmethod
    def check_configuration(cls) -> list[CheckMessage]:
        path = settings.FCM_CREDENTIALS_FILE
        if not path:
            return [Error("PUSH_BACKEND=fcm needs FCM_CREDENTIALS_FILE.", id="delivery.E002")]
        try:
            info = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            return [Error(f"FCM_CREDENTIALS_FILE {path!r} cannot be read as JSON: {error}", id="delivery.E002")]
        if (
            not isinstance(info, dict)
            or info.get("type") != "service_account"
            or not all(info.get(name) for name in ("client_email", "private_key", "token_uri"))
        ):
            return [
                Error(
                    f"FCM_CREDENTIALS_FILE {path!r} is not a service-account key file.",
                    hint="Download one from the Firebase console: Project settings → Service accounts.",
                    id="delivery.E002",
                )
            ]
        return []

    def prepare(self) -> None:
        """Our firebase_admin app, its messaging service and what a push takes of them (`_direct`), built now: about
        0.3 s of CPU, mostly SSL contexts for an async HTTP client firebase-admin builds beside the requests session
        and we never use. Built in a Celery worker's main process before its pool forks, each pool process inherits
        them (no connection is open yet, and the access token is fetched at the first push, in each process)."""
        _direct(firebase_app())

    def send(self, request: PushRequest) -> PushResult:
        return _send_one(firebase_app(), build_message(request))

    def send_many(self, requests: Sequence[PushRequest]) -> list[PushResult]:
        """Each push is its own FCM call (`messaging.send`, what `send_each` makes per message), run on the process's
        send pool, so a batch costs no thread starts; results in request order."""
        if len(requests) == 1:
            return [self.send(requests[0])]
        app = firebase_app()
        pool = send_pool()
        results: list[PushResult] = []
        for start in range(0, len(requests), self.chunk_size):
            chunk = requests[start : start + self.chunk_size]
            results.extend(pool.map(lambda request: _send_one(app, build_message(request)), chunk))
        return results


# --- One push, without requests' Session layer -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Direct:
    """What `messaging.send` uses of our app's messaging service, taken once per app: the service (to encode the
    message and classify errors as it does), its authorized session (credentials, the auth request, the refresh
    rule), the transport adapter mounted for the FCM URL and the headers every push carries."""

    service: Any
    session: Any
    adapter: requests_adapters.HTTPAdapter
    url: str
    headers: dict[str, str]
    timeout: float | None


_directs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_directs_lock = threading.Lock()


def _direct(app: firebase_admin.App) -> _Direct | None:
    # Private API of firebase-admin and google-auth: None (pushes go through `messaging.send`) if an upgrade moves it.
    with _directs_lock:
        if app not in _directs:
            try:
                service = messaging._get_messaging_service(app)
                client, session = service._client, service._client.session
                url = client.base_url + service._fcm_url
                _directs[app] = _Direct(
                    service=service,
                    session=session,
                    adapter=session.get_adapter(url),
                    url=url,
                    headers={
                        **session.headers,
                        **firebase_http_client.METRICS_HEADERS,
                        **service._fcm_headers,
                        "Content-Type": "application/json",
                    },
                    timeout=client.timeout,
                )
                # What `_post` reads of the session on every push: checked here, once.
                session._auth_request, session._refresh_status_codes, session._max_refresh_attempts  # noqa: B018
            except AttributeError:
                _directs[app] = None
        return _directs[app]


def _post(direct: _Direct, message: messaging.Message) -> str:
    """`messaging.send`'s request, sent straight through the session's transport adapter. About a quarter of a
    push's CPU was requests' Session layer — merging session settings, cookies, hooks, URL parsing — which has
    nothing to do for a fixed URL without cookies or redirects (against a local FCM fake, 0.41–0.47 ms of CPU per
    push through it, 0.30–0.34 ms without; redirects are not followed, as FCM sends none). Kept as they were: the
    message encoding and the error classification (firebase-admin's own), google-auth's credentials (a token
    fetched or refreshed before the request when due, and refreshed and the push sent again on a 401, as its
    session does), the adapter's connection pool, retries and proxies, the session's CA bundle and the app's
    timeout."""
    session = direct.session
    body = json.dumps(direct.service._message_data(message, False), allow_nan=False).encode()
    auth_request = session._auth_request
    if direct.timeout is not None:
        auth_request = functools.partial(auth_request, timeout=direct.timeout)
    try:
        for refresh in range(session._max_refresh_attempts + 1):
            prepared = PreparedRequest()
            prepared.method, prepared.url, prepared.body = "POST", direct.url, body
            prepared.headers = CaseInsensitiveDict(direct.headers)
            prepared.headers["Content-Length"] = str(len(body))
            session.credentials.before_request(auth_request, "POST", direct.url, prepared.headers)
            response = direct.adapter.send(
                prepared, timeout=direct.timeout, verify=session.verify, cert=session.cert, proxies=session.proxies
            )
            response.content  # noqa: B018 - read the body now, as the session does unless streaming
            if response.status_code not in session._refresh_status_codes or refresh == session._max_refresh_attempts:
                break
            session.credentials.refresh(auth_request)
        response.raise_for_status()
    except requests_exceptions.RequestException as error:
        raise direct.service._handle_fcm_error(error) from error
    return response.json()["name"]


def _send_one(app: firebase_admin.App, message: messaging.Message) -> PushResult:
    started = time.perf_counter()
    direct = _direct(app)
    try:
        message_id = _post(direct, message) if direct else messaging.send(message, app=app)
    except (exceptions.FirebaseError, google_auth_exceptions.GoogleAuthError) as error:
        return result_for_error(error, latency_seconds=time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - as send_each did: anything else is one push's unknown failure
        wrapped = exceptions.UnknownError(message=f"Unknown error while sending a push: {error}", cause=error)
        return result_for_error(wrapped, latency_seconds=time.perf_counter() - started)
    return PushResult(outcome=PushOutcome.SENT, message_id=message_id, latency_seconds=time.perf_counter() - started)
