"""Exponential backoff with jitter, for everything that tries again later: a message waiting for capacity, a push
that met a transient error, a webhook whose endpoint is down. The jitter spreads the retries of many items that
failed together (an endpoint back up, capacity come back), so they do not all return at the same instant."""

import random


def backoff_with_jitter(*, base: float, exponent: int, cap: float | None = None, jitter: float = 0.5) -> float:
    """`base * 2**exponent` seconds (the exponent clamped to 0..30), at most `cap`, times a uniform random factor
    in [1 - jitter, 1 + jitter]."""
    delay = base * 2 ** min(max(exponent, 0), 30)
    if cap is not None:
        delay = min(delay, cap)
    return delay * random.uniform(1 - jitter, 1 + jitter)
