"""Prometheus metrics of the delivery app (default registry, exposed on /metrics): push, webhooks, and the delivered
reports waiting for the settle step."""

import logging
from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

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


class UnsettledReportsCollector(Collector):
    """Delivered reports waiting for the settle step (apps.delivery.settling), read from the database when scraped
    (the web process serving /metrics is not the worker that settles them). A count that keeps growing, or an oldest
    age past the sweep's period, says the settle tasks are not running: rewards and captures wait."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from apps.delivery.settling import unsettled_figures

        count = GaugeMetricFamily(
            "peerpower_delivery_reports_unsettled", "Delivered reports whose capture, reward and outcome wait."
        )
        oldest = GaugeMetricFamily(
            "peerpower_delivery_reports_unsettled_oldest_seconds",
            "Age of the oldest delivered report waiting to be settled (0 when none).",
        )
        figures = (0, 0.0)
        try:
            figures = unsettled_figures()
        except Exception:  # no database, no table yet: the other metrics must still be scraped
            logger.warning("unsettled report figures unavailable", exc_info=True)
        count.add_metric([], figures[0])
        oldest.add_metric([], figures[1])
        yield count
        yield oldest

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(())
