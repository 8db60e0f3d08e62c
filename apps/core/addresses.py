"""The SSRF guard: webhooks go to the public internet only.

It lives in core because two apps check client-chosen URLs with it: messaging (a message's `callback_url`, at
submission) and delivery (webhook endpoints at registration, and every send).

A client chooses where our servers send requests, so a URL could aim them at our own network (the metadata
service at 169.254.169.254, Redis on 10.x, the admin on localhost). URLs are checked when they are registered
(`webhook_url_check`) and again at every send, where the connection itself goes only to an address that passed
the check (see `transport`), because DNS can change in between or answer differently each time.

Refused: private, loopback, link-local, multicast, reserved, unspecified and shared (carrier-grade NAT) addresses,
IPv4 and IPv6 alike, including IPv4 addresses wrapped in IPv6 (`::ffff:10.0.0.1`, 6to4). A host that resolves to
several addresses is refused if any of them is. WEBHOOK_ALLOW_PRIVATE_ADDRESSES lifts the address rule (tests, the
local demo); WEBHOOK_REQUIRE_HTTPS refuses plain http.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from apps.core.errors import ValidationFailed

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# A refused URL is a 400 whose code says why, the same at endpoint registration and when a message names a callback
# URL.
class WebhookUrlRefused(ValidationFailed):
    """Base of the URL refusals; `details.url` is the refused URL."""

    code = "webhook_url_invalid"
    default_message = _("The webhook URL must be an absolute http or https URL with a host name.")


class WebhookUrlHttpsRequired(WebhookUrlRefused):
    code = "webhook_url_https_required"
    default_message = _("The webhook URL must use https.")


class WebhookUrlPrivateAddress(WebhookUrlRefused):
    code = "webhook_url_private_address"
    default_message = _("The webhook URL points to a private, local or reserved network address.")


class WebhookUrlUnresolvable(WebhookUrlRefused):
    code = "webhook_url_unresolvable"
    default_message = _("The webhook URL's host name does not resolve.")


class AddressRefused(Exception):
    """A connection was about to go to an address the guard refuses. Deliberately not an OSError: urllib3 would
    retry or wrap it, and it must stop the request as it is."""


def address_is_public(address: IPAddress) -> bool:
    """Whether a webhook may be sent to `address`."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches the IPv4 host: judge that one.
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return address_is_public(embedded)
    # is_global alone is not enough: multicast addresses count as global.
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def _literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def _is_localhost_name(host: str) -> bool:
    # "localhost" and its subdomains are loopback by definition (RFC 6761), whatever a resolver says.
    host = host.rstrip(".").lower()
    return host == "localhost" or host.endswith(".localhost")


def resolve_host(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (TCP), in the resolver's order; raises socket.gaierror when it does not."""
    literal = _literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canonical, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def refused_addresses(addresses: list[IPAddress]) -> list[IPAddress]:
    """The addresses among `addresses` a webhook may not go to (none when private addresses are allowed)."""
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES:
        return []
    return [address for address in addresses if not address_is_public(address)]


def webhook_url_check(url: str, *, resolve: bool = True) -> str:
    """Refuse a URL webhooks may not go to, with a stable code; return it unchanged otherwise.

    With `resolve=False` the host name is not looked up (no DNS on a hot path): only the scheme, literal addresses
    and localhost names are judged, and the send-time check does the rest.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise WebhookUrlRefused(details={"url": url}) from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host:
        raise WebhookUrlRefused(details={"url": url})
    if parts.scheme != "https" and settings.WEBHOOK_REQUIRE_HTTPS:
        raise WebhookUrlHttpsRequired(details={"url": url})
    if settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES and not resolve:
        return url
    literal = _literal_address(host)
    if literal is None and _is_localhost_name(host):
        literal = ipaddress.IPv4Address("127.0.0.1")
    if literal is not None:
        addresses = [literal]
    elif not resolve:
        return url
    else:
        try:
            addresses = resolve_host(host, port or (443 if parts.scheme == "https" else 80))
        except (OSError, UnicodeError):
            raise WebhookUrlUnresolvable(details={"url": url, "host": host}) from None
    refused = refused_addresses(addresses)
    if refused:
        raise WebhookUrlPrivateAddress(details={"url": url, "address": str(refused[0])})
    return url
