"""Client address of a request, trusting only the configured number of reverse proxies."""

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The address that connected to the first trusted proxy (or to us, with no proxies configured).

    X-Forwarded-For is only as trustworthy as the proxies that append to it: with N trusted proxies, the N-th entry
    from the right is the client; anything further left was written by the client and is ignored.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies > 0:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return request.META.get("REMOTE_ADDR", "")
