"""Top-up figures on /metrics."""

from prometheus_client import Counter

BARAY_WEBHOOKS = Counter(
    "peerpower_baray_webhooks_total",
    "Webhooks received from Baray, by what became of them (settled, replayed, invalid, mismatch, ...).",
    ["outcome"],
)
TOPUPS = Counter(
    "peerpower_topups_total", "Top-ups reaching a final status, by status and currency.", ["status", "currency"]
)
