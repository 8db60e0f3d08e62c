"""The push channel's transport: data-only pushes to provider phones through the configured backend.

Call these (never a backend directly), so every push is counted and logged the same way:

    result = push_send(request=PushRequest(token=..., data={"job": "123", "kind": "offer"}, ttl_seconds=30))
    results = push_send_many(requests=[...])  # many due at once: one FCM batch, results in the same order

The payload rule: `data` carries the job id and its kind and nothing else — NEVER the SMS body, the recipient or
anything personal (FCM payloads pass through Google and rest on the device unencrypted); the phone fetches the job
over the authenticated API. Backends send `data` exactly as given and add nothing. `ttl_seconds` is the time left on
the lease. See PushOutcome for what each result asks the caller to do.

Pushes are sent outside database transactions (after commit): they are slow, and cannot be rolled back.
"""

import logging
from collections.abc import Sequence

from apps.delivery.metrics import PUSH_LATENCY, PUSHES
from apps.delivery.push.backends import PushBackend, get_push_backend, token_fingerprint
from apps.delivery.push.types import PushOutcome, PushRequest, PushResult

__all__ = [
    "PushBackend",
    "PushOutcome",
    "PushRequest",
    "PushResult",
    "get_push_backend",
    "push_backend_prepare",
    "push_send",
    "push_send_many",
]

logger = logging.getLogger("peerpower.push")


def push_send(*, request: PushRequest) -> PushResult:
    """Sends one push. Never raises for delivery problems (see PushResult.outcome); raises ImproperlyConfigured
    when the backend is misconfigured."""
    result = get_push_backend().send(request)
    _record(request, result)
    return result


def push_send_many(*, requests: Sequence[PushRequest]) -> list[PushResult]:
    """Sends many pushes at once (FCM: concurrently, on the process's bounded send pool); one result per request,
    in the same order."""
    if not requests:
        return []
    results = get_push_backend().send_many(list(requests))
    if len(results) != len(requests):
        raise RuntimeError(f"Push backend returned {len(results)} results for {len(requests)} requests.")
    for request, result in zip(requests, results, strict=True):
        _record(request, result)
    return results


def push_backend_prepare(**kwargs: object) -> None:
    """Build the configured backend's clients before the first push (`PushBackend.prepare`). Connected to Celery's
    `worker_init`: a worker's main process runs it before forking its pool, so the pool processes share what it built
    instead of each paying for it at its first push. A failure here is only logged: the first push builds again, and
    reports a misconfiguration as it always has."""
    try:
        get_push_backend().prepare()
    except Exception:
        logger.warning("push backend: could not prepare it before the first push", exc_info=True)


def _record(request: PushRequest, result: PushResult) -> None:
    PUSHES.labels(outcome=result.outcome.value, error_code=result.error_code or "").inc()
    PUSH_LATENCY.labels(outcome=result.outcome.value).observe(result.latency_seconds)
    if result.outcome is not PushOutcome.SENT:
        logger.log(
            logging.INFO if result.outcome is PushOutcome.RETRYABLE else logging.WARNING,
            "push %s (%s) device=%s: %s",
            result.outcome.value,
            result.error_code,
            token_fingerprint(request.token),
            result.detail,
        )
