"""Sending deliveries: claim, sign, post, record, schedule the retry; disable endpoints that keep failing; sweep up
deliveries whose task was lost.

The HTTP request is made outside any database transaction. A delivery's next attempt is claimed with a conditional
update (due, pending, not locked) that sets a lock and a fresh claim token; only that token's holder records the
outcome. So a task that runs twice, or a sweeper that enqueues a delivery whose task is merely late, sends once.

New deliveries are signalled per target (endpoint, or callback URL), not per delivery: after commit, one cache `add`
per target says "a sender is on its way"; only when none is does one `webhook_send_target` task go out, starting
WEBHOOK_LINGER_MS later, and it sends every due delivery of that target one after the other (each claimed, signed and
recorded on its own). Retries, staff resends and the sweeper still send one task per delivery. The database is the
truth: a lost target task leaves its deliveries pending and due, for the next target task or the sweeper.
"""

import hashlib
import logging
import secrets
import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core.backoff import backoff_with_jitter
from apps.delivery.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_LATENCY
from apps.delivery.webhooks.choices import DeliveryStatus, DeliveryTarget
from apps.delivery.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from apps.delivery.webhooks.selectors import webhook_targets_forget
from apps.delivery.webhooks.services.endpoints import audit, deliveries_cancel, webhook_callback_secret_ensure
from apps.delivery.webhooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from apps.delivery.webhooks.transport import PostResult, webhook_post

logger = logging.getLogger("peerpower.webhooks")

# Retries due this soon go through the broker with a countdown; later ones wait in the database for the sweeper
# (a worker holds countdown tasks in memory until they are due, so hours-long countdowns do not scale).
COUNTDOWN_MAX_SECONDS = 300
# A task that arrives this early (clocks of different machines) still counts as due.
EARLY_TOLERANCE = timedelta(seconds=1)
SWEEP_BATCH = 500


def retry_delay_seconds(failures: int) -> float:
    """Wait after the `failures`-th failed attempt: base * 2^(failures - 1), capped, with +-50% jitter so the
    deliveries of an endpoint that was down do not all come back at once."""
    return backoff_with_jitter(
        base=settings.WEBHOOK_RETRY_BASE_SECONDS, exponent=failures - 1, cap=settings.WEBHOOK_RETRY_MAX_SECONDS
    )


def deliveries_enqueue(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    """Signal the sender after the current transaction commits. A broker that is down is logged, not raised: the
    change that caused the event is committed, and the sweeper finds the deliveries in the database."""
    from apps.delivery.webhooks.tasks import webhook_send

    ids = list(delivery_ids)

    def send() -> None:
        for delivery_id in ids:
            webhook_send.apply_async(args=[delivery_id], queue="default", countdown=countdown)

    if ids:
        transaction.on_commit(send, robust=True)


# How long "a sender is on its way" to a target holds back further signals (only an optimisation: the sweeper finds
# deliveries whose task was lost); and how long one target task sends before it hands the rest to a new task.
TARGET_SIGNAL_SECONDS = 30
TARGET_TASK_SECONDS = 10.0
TARGET_BATCH = 100


def deliveries_signal(deliveries: Iterable[WebhookDelivery]) -> None:
    """New deliveries, due now: after the current transaction commits, wake one sender per target (endpoint or
    callback URL) unless one is on its way; it starts WEBHOOK_LINGER_MS later and sends every due delivery of its
    target. With WEBHOOK_LINGER_MS 0, one task per delivery (`deliveries_enqueue`)."""
    deliveries = list(deliveries)
    if settings.WEBHOOK_LINGER_MS <= 0:
        deliveries_enqueue([delivery.pk for delivery in deliveries])
        return
    targets = sorted({_target_of(delivery) for delivery in deliveries}, key=str)
    if targets:
        transaction.on_commit(lambda: [target_signal(*target) for target in targets], robust=True)


def _target_of(delivery: WebhookDelivery) -> tuple[int | None, str]:
    if delivery.target == DeliveryTarget.ENDPOINT:
        return (delivery.endpoint_id, "")
    return (None, delivery.url)


def _target_key(endpoint_id: int | None, url: str) -> str:
    if endpoint_id is not None:
        return f"webhooks:pending:endpoint:{endpoint_id}"
    return f"webhooks:pending:url:{hashlib.sha256(url.encode()).hexdigest()[:32]}"


def target_signal(endpoint_id: int | None, url: str = "", *, force: bool = False) -> bool:
    """Publish a `webhook_send_target` task for the target unless one is on its way (`force`: a target task handing
    on the rest of its work, at once). Returns whether a task was published. A cache failure publishes anyway."""
    from apps.delivery.webhooks.tasks import webhook_send_target

    if not force:
        try:
            if not cache.add(_target_key(endpoint_id, url), 1, timeout=TARGET_SIGNAL_SECONDS):
                return False
        except Exception:
            logger.warning("webhook signal: cache unavailable, publishing anyway", exc_info=True)
    countdown = None if force else settings.WEBHOOK_LINGER_MS / 1000
    webhook_send_target.apply_async(args=[endpoint_id, url], queue="default", countdown=countdown)
    return True


def webhook_target_send_due(
    *, endpoint_id: int | None, url: str = "", seconds: float = TARGET_TASK_SECONDS, now: datetime | None = None
) -> dict[str, int]:
    """The target task's work: every pending delivery of the target (an endpoint, or with `endpoint_id` None a
    callback URL) that is due and not claimed, oldest first, each through `webhook_delivery_send` (its own claim,
    signature, request and record). After `seconds` it hands the rest to a new task. Returns the outcomes' counts."""
    try:
        # From now on new deliveries signal again: this task may already have read past them.
        cache.delete(_target_key(endpoint_id, url))
    except Exception:
        logger.warning("webhook signal: cache unavailable", exc_info=True)
    started = time.monotonic()
    counts: dict[str, int] = {}
    while True:
        at = now or timezone.now()
        due = WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=at + EARLY_TOLERANCE
        ).filter(Q(locked_until__isnull=True) | Q(locked_until__lte=at))
        if endpoint_id is not None:
            due = due.filter(target=DeliveryTarget.ENDPOINT, endpoint_id=endpoint_id)
        else:
            due = due.filter(target=DeliveryTarget.CALLBACK_URL, url=url)
        batch = list(due.order_by("next_attempt_at", "pk").values_list("pk", flat=True)[:TARGET_BATCH])
        for delivery_id in batch:
            if time.monotonic() - started >= seconds:
                target_signal(endpoint_id, url, force=True)
                return counts
            outcome = webhook_delivery_send(delivery_id=delivery_id, now=now)
            counts[outcome] = counts.get(outcome, 0) + 1
        if len(batch) < TARGET_BATCH:
            return counts


def _lease() -> timedelta:
    # Several times what one attempt can take (its connect and read timeouts), so a claim is not taken over while its
    # request is in flight; but no longer, because a worker killed mid-attempt (SIGKILL, OOM, a lost node) leaves its
    # claim behind and the delivery waits for the lease to end before the sweeper sends it again — Celery's hard time
    # limit (minutes) was too long a wait for a client whose receiver is back. Were an attempt ever slower, the worst
    # is one event sent twice, which receivers already deduplicate (deliveries are at least once).
    attempt = settings.WEBHOOK_CONNECT_TIMEOUT_SECONDS + settings.WEBHOOK_READ_TIMEOUT_SECONDS
    return timedelta(seconds=max(30.0, 4 * attempt))


def webhook_delivery_send(*, delivery_id: int, now: datetime | None = None) -> str:
    """Make the delivery's next attempt if it is due. Returns what happened: `succeeded`, `retrying`, `failed`
    (retry window over), `cancelled` (endpoint off, disabled, deleted or unsubscribed) or `skipped` (not due, not
    pending, or claimed by another worker)."""
    now = now or timezone.now()
    token = secrets.token_hex(16)
    claimed = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now + EARLY_TOLERANCE
        )
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .update(locked_until=now + _lease(), claim_token=token, attempt_count=F("attempt_count") + 1)
    )
    if claimed != 1:
        return "skipped"
    delivery = WebhookDelivery.objects.select_related("event__organization", "endpoint").get(pk=delivery_id)
    event = delivery.event
    if delivery.target == DeliveryTarget.CALLBACK_URL:
        url = delivery.url
        signing_secrets = webhook_callback_secret_ensure(organization=event.organization).signing_secrets(now)
    else:
        endpoint = delivery.endpoint
        reason = _endpoint_refuses(endpoint, event.type)
        if reason:
            _release(delivery=delivery, token=token, status=DeliveryStatus.CANCELLED, reason=reason)
            return "cancelled"
        url = endpoint.url
        signing_secrets = endpoint.signing_secrets(now)

    body = event.body.encode()
    headers = {
        # The time on the wire, which receivers compare with their clock (not `now`, which tests move).
        SIGNATURE_HEADER: signature_header(secrets=signing_secrets, timestamp=int(time.time()), body=body),
        EVENT_ID_HEADER: event.public_id,
        EVENT_TYPE_HEADER: event.type,
    }
    result = webhook_post(url=url, body=body, headers=headers)
    WEBHOOK_ATTEMPTS.labels(outcome=result.outcome).inc()
    WEBHOOK_LATENCY.labels(outcome=result.outcome).observe(result.latency_seconds)
    return _record(delivery=delivery, token=token, url=url, result=result, now=now)


def _endpoint_refuses(endpoint: WebhookEndpoint | None, event_type: str) -> str:
    """Why this endpoint no longer takes the delivery (empty if it does)."""
    if endpoint is None:
        return "endpoint_deleted"
    if endpoint.disabled_at is not None:
        return "endpoint_disabled"
    if not endpoint.active:
        return "endpoint_inactive"
    if event_type not in endpoint.event_types:
        return "endpoint_unsubscribed"
    return ""


def _release(*, delivery: WebhookDelivery, token: str, status: str, reason: str) -> None:
    """End a claimed delivery without a request (the claim's count of attempts is given back)."""
    WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(
        status=status,
        status_reason=reason,
        next_attempt_at=None,
        locked_until=None,
        claim_token="",
        attempt_count=F("attempt_count") - 1,
    )


def _record(*, delivery: WebhookDelivery, token: str, url: str, result: PostResult, now: datetime) -> str:
    """Store the attempt, move the delivery on, and keep the endpoint's failure streak."""
    retry_in: float | None = None
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempt_count,
            started_at=now,
            url=url,
            outcome=result.outcome,
            status_code=result.status_code,
            latency_ms=round(result.latency_seconds * 1000),
            error=result.error[:300],
            response_excerpt=result.response_excerpt[:500],
        )
        last = {"last_attempt_at": now, "last_status_code": result.status_code, "last_error": result.error[:300]}
        if result.succeeded:
            # Recorded even if the delivery was cancelled meanwhile: the client did receive it.
            WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token).update(
                status=DeliveryStatus.SUCCEEDED,
                status_reason="",
                succeeded_at=now,
                next_attempt_at=None,
                locked_until=None,
                claim_token="",
                **last,
            )
            if delivery.endpoint_id:
                WebhookEndpoint.objects.filter(pk=delivery.endpoint_id).update(
                    consecutive_failures=0, failing_since=None, last_success_at=now
                )
            return "succeeded"

        delay = retry_delay_seconds(delivery.attempt_count)
        next_attempt_at = now + timedelta(seconds=delay)
        gave_up = next_attempt_at > delivery.retry_until
        WebhookDelivery.objects.filter(pk=delivery.pk, claim_token=token, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.FAILED if gave_up else DeliveryStatus.PENDING,
            status_reason="retry_window_over" if gave_up else result.outcome,
            next_attempt_at=None if gave_up else next_attempt_at,
            locked_until=None,
            claim_token="",
            **last,
        )
        if delivery.endpoint_id:
            _endpoint_failed(endpoint_id=delivery.endpoint_id, result=result, now=now)
        if not gave_up and delay <= COUNTDOWN_MAX_SECONDS:
            retry_in = delay
    if retry_in is not None:
        deliveries_enqueue([delivery.pk], countdown=retry_in)
    return "failed" if gave_up else "retrying"


def _endpoint_failed(*, endpoint_id: int, result: PostResult, now: datetime) -> None:
    """Count the failure; disable the endpoint once the streak is long in both attempts and time."""
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(
        consecutive_failures=F("consecutive_failures") + 1,
        failing_since=Coalesce("failing_since", Value(now, output_field=DateTimeField())),
        last_failure_at=now,
    )
    streak = WebhookEndpoint.objects.filter(pk=endpoint_id).values("consecutive_failures", "failing_since").first()
    if streak is None:
        return  # deleted meanwhile
    reason = (
        f"{streak['consecutive_failures']} failed attempts in a row since "
        f"{streak['failing_since']:%Y-%m-%d %H:%M} UTC; last: {result.error or result.outcome}"
    )[:200]
    disabled = WebhookEndpoint.objects.filter(
        pk=endpoint_id,
        disabled_at__isnull=True,
        consecutive_failures__gte=settings.WEBHOOK_DISABLE_AFTER_FAILURES,
        failing_since__lte=now - timedelta(seconds=settings.WEBHOOK_DISABLE_AFTER_SECONDS),
    ).update(disabled_at=now, disabled_reason=reason)
    if disabled:
        endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
        cancelled = deliveries_cancel(endpoint_id=endpoint_id, reason="endpoint_disabled")
        audit(
            actor=None,
            action="webhook_endpoint.disabled",
            target=endpoint,
            after={"reason": reason, "cancelled_deliveries": cancelled},
        )
        webhook_targets_forget(organization_id=endpoint.organization_id)
        logger.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)


def webhook_deliveries_sweep(*, now: datetime | None = None) -> int:
    """Enqueue pending deliveries that are due by more than WEBHOOK_SWEEP_GRACE_SECONDS and not locked: their task
    was lost, or their retry was too far off for a countdown. Returns how many were enqueued."""
    now = now or timezone.now()
    overdue = now - timedelta(seconds=settings.WEBHOOK_SWEEP_GRACE_SECONDS)
    with transaction.atomic():
        due = list(
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=overdue)
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:SWEEP_BATCH]
        )
        # Due "now" again, so the next sweep leaves them to the tasks just enqueued for a grace period.
        WebhookDelivery.objects.filter(pk__in=due).update(next_attempt_at=now)
        deliveries_enqueue(due)
    return len(due)
