"""Rate limits on the shared cache (Redis, or the shared file cache), raising a 429 domain error with Retry-After.

One helper for every limit in the project (OTP requests per phone and per IP, client API keys per second and per
day...), built on django-ratelimit's fixed windows so the counters are shared by every web process.
"""

from django_ratelimit.core import get_usage

from apps.core.errors import RateLimited


def rate_limit(*, group: str, key: str, rate: str | None, increment: bool = True) -> None:
    """Count one hit for `key` in `group` and raise RateLimited if it goes over `rate` ("5/h", "100/s"; None = off).

    `key` is the value being limited (a phone number, an IP, an API key id), not a django-ratelimit key name.
    """
    if not rate:
        return
    # The request argument is only used for method matching (off here) and by key functions (ours ignores it).
    usage = get_usage(None, group=group, key=lambda _group, _request: key, rate=rate, increment=increment)
    if usage and usage["should_limit"]:
        raise RateLimited(retry_after=max(int(usage["time_left"]), 1))
