"""Prometheus metrics of the delivery app (default registry, exposed on /metrics): push and webhooks."""

from prometheus_client import Counter, Histogram

PUSHES = Counter(
    "peerpower_push_total",
    "Pushes to provider phones by outcome (sent, token_dead, retryable, failed) and error code (empty when sent).",
    ["outcome", "error_code"],
)
PUSH_LATENCY = Histogram(
    "peerpower_push_latency_seconds",
    "Time to hand a push to FCM, including firebase-admin's own retries, by outcome (a batch counts its duration "
    "for each push in it).",
    ["outcome"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
WEBHOOK_EVENTS = Counter(
    "peerpower_webhook_events_total",
    "Webhook events stored for clients (only when an endpoint or callback URL is to receive them), by type.",
    ["type"],
)
WEBHOOK_ATTEMPTS = Counter(
    "peerpower_webhook_attempts_total",
    "Webhook delivery attempts (HTTP requests to clients) by outcome: succeeded, http_error, timeout, "
    "connection_error, address_refused.",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "peerpower_webhook_latency_seconds",
    "Time from starting a webhook request to its answer (or failure), by outcome.",
    ["outcome"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
)
