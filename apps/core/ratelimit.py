"""Rate limits on the shared cache (Redis, or the shared file cache), raising a 429 domain error with Retry-After.

One helper for every limit in the project (OTP requests per phone and per IP, client API keys per second...):
fixed windows counted in the shared cache (`apps.core.counters`), so the counters are shared by every web process.
Windows longer than a second end at a point that depends on the key (as django-ratelimit's do), so not every
limit resets at the same instant. `rate_window` lets a caller count a limit in the same round trip as other
counters (the send path counts its per-second rate and its daily quota together).
"""

import hashlib
import re
import time
import zlib
from dataclasses import dataclass

from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured

from apps.core.counters import Count, counters_add
from apps.core.errors import RateLimited

RATE = re.compile(r"^(?P<limit>\d+)/(?P<multiple>\d*)(?P<unit>[smhd])$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Window:
    """The current window of one limit for one key: its counter's cache key, how many hits it allows and the whole
    seconds until it ends (at least 1, the client's Retry-After)."""

    key: str
    limit: int
    seconds_left: int

    def count(self, amount: int = 1) -> Count:
        # The counter outlives its window by a second: its key names the window, so it is never reused.
        return Count(key=self.key, amount=amount, timeout=self.seconds_left + 1)

    def refuse_over(self, used: int) -> None:
        """Raise RateLimited if `used` hits are more than the window allows."""
        if used > self.limit:
            raise RateLimited(retry_after=self.seconds_left)


def parse_rate(rate: str) -> tuple[int, int]:
    """ "5/h" → (5, 3600); "100/s" → (100, 1); "10/5m" → (10, 300)."""
    match = RATE.match(rate.strip().lower())
    if match is None:
        raise ImproperlyConfigured(f"Invalid rate {rate!r}: expected hits/period, such as 5/h, 100/s or 10/5m.")
    seconds = UNIT_SECONDS[match["unit"]] * int(match["multiple"] or 1)
    return int(match["limit"]), seconds


def rate_window(*, group: str, key: str, rate: str, now: float | None = None) -> Window:
    """The window `key` is in now for the limit `rate` of `group`."""
    limit, period = parse_rate(rate)
    now_seconds = int(time.time() if now is None else now)
    identity = f"{group}\n{key}".encode()
    offset = zlib.crc32(identity) % period
    # The first window boundary (epoch + offset + a multiple of period) strictly after now.
    ends_at = now_seconds + period - (now_seconds - offset) % period
    digest = hashlib.blake2b(identity, digest_size=12).hexdigest()  # no phone numbers or addresses in cache keys
    return Window(key=f"rl:{digest}:{period}:{ends_at}", limit=limit, seconds_left=ends_at - now_seconds)


def rate_limit(*, group: str, key: str, rate: str | None, increment: bool = True) -> None:
    """Count one hit for `key` in `group` and raise RateLimited if it goes over `rate` ("5/h", "100/s"; None = off).

    `key` is the value being limited (a phone number, an IP, an API key id). `increment=False` only looks: it
    raises if the window has already gone over (as django-ratelimit's `get_usage` did).
    """
    if not rate:
        return
    window = rate_window(group=group, key=key, rate=rate)
    if increment:
        (used,) = counters_add([window.count()])
        window.refuse_over(used)
    else:
        window.refuse_over(cache.get(window.key, 0))
