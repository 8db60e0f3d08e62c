"""Posting a webhook over HTTP with `requests`: timeouts, no redirects, no proxies, and connections that go only to
addresses the SSRF guard accepts.

The guard sits where the socket is opened (urllib3's connection `_new_conn`): the host is resolved there, every
address is checked, and the socket connects to a checked address, never to a second lookup of the name. TLS then
verifies the certificate against the host name as usual. `webhook_post` never raises for what the other side
does; it returns what happened.
"""

import socket
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import NameResolutionError, NewConnectionError

from apps.core.addresses import AddressRefused, WebhookUrlRefused, refused_addresses, resolve_host, webhook_url_check
from apps.delivery.webhooks.choices import AttemptOutcome

USER_AGENT = "PeerPower-Webhooks/1.0"
# What is kept of an answer's body for the admin; the rest is never read.
EXCERPT_BYTES = 500


class _GuardedConnectionMixin:
    """Resolve, check every address, then connect to the checked addresses only (in the resolver's order)."""

    def _new_conn(self) -> socket.socket:
        host = self._dns_host
        try:
            addresses = resolve_host(host, self.port)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        refused = refused_addresses(addresses)
        if refused:
            raise AddressRefused(f"{self.host} resolves to {refused[0]}, which webhooks may not reach")
        last_error: Exception | None = None
        for address in addresses:
            # urllib3 connects to `_dns_host`; point it at the checked address for the connect only, so TLS
            # (server name, certificate) still works with the real host name.
            self._dns_host = str(address)
            try:
                return super()._new_conn()
            except NewConnectionError as error:
                last_error = error
            finally:
                self._dns_host = host
        raise last_error or NewConnectionError(self, f"{self.host} has no address")


class GuardedHTTPConnection(_GuardedConnectionMixin, HTTPConnection):
    pass


class GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = GuardedHTTPSConnection


class GuardedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: object, **kwargs: object) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": GuardedHTTPConnectionPool,
            "https": GuardedHTTPSConnectionPool,
        }


def guarded_session() -> requests.Session:
    """A requests session whose connections obey the SSRF guard. No proxies or .netrc from the environment: a
    proxy would make the guard check the proxy's address instead of the target's."""
    session = requests.Session()
    session.trust_env = False
    adapter = GuardedAdapter(max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


@dataclass(frozen=True)
class PostResult:
    outcome: str  # AttemptOutcome
    latency_seconds: float
    status_code: int | None = None
    error: str = ""
    response_excerpt: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome == AttemptOutcome.SUCCEEDED


def webhook_post(*, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST `body` to `url` once. 2xx is success; any other answer (redirects included: they are not followed),
    a timeout, a connection error or a refused address is a failure, described in the result."""
    started = time.monotonic()

    def result(outcome: str, **fields: object) -> PostResult:
        return PostResult(outcome=outcome, latency_seconds=time.monotonic() - started, **fields)

    try:
        # The URL was checked when it was registered; settings (https) may have changed since.
        webhook_url_check(url, resolve=False)
    except WebhookUrlRefused as error:
        return result(AttemptOutcome.ADDRESS_REFUSED, error=f"{error.code}: {error.message}")
    headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json; charset=utf-8", **headers}
    timeout = (settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS, settings.WEBHOOK_READ_TIMEOUT_SECONDS)
    try:
        with guarded_session() as session:
            response = session.post(
                url, data=body, headers=headers, timeout=timeout, allow_redirects=False, stream=True
            )
            with response:
                excerpt = _excerpt(response)
    except AddressRefused as error:
        return result(AttemptOutcome.ADDRESS_REFUSED, error=str(error))
    except requests.Timeout as error:
        return result(AttemptOutcome.TIMEOUT, error=_describe(error))
    except requests.RequestException as error:
        return result(AttemptOutcome.CONNECTION_ERROR, error=_describe(error))
    text = excerpt.decode("utf-8", errors="replace")
    if 200 <= response.status_code < 300:
        return result(AttemptOutcome.SUCCEEDED, status_code=response.status_code, response_excerpt=text)
    error = f"HTTP {response.status_code}"
    if response.is_redirect:
        error += f" redirect to {response.headers.get('Location', '?')} (not followed)"
    return result(AttemptOutcome.HTTP_ERROR, status_code=response.status_code, error=error, response_excerpt=text)


def _excerpt(response: requests.Response) -> bytes:
    """The start of the answer's body, for the admin. The status line decided the outcome already, so a body that
    cannot be read (reset, slow) is only missing from the record."""
    try:
        return next(response.iter_content(EXCERPT_BYTES), b"")
    except (requests.RequestException, OSError):
        return b""


def _describe(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:300]
