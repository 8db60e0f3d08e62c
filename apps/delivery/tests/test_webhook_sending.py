"""Sending deliveries to a real local receiver: signed requests, retries with backoff (time moved forward, no
sleeping), attempts recorded, endpoints disabled after the threshold, staff resends, no redirects, and the
sweeper for lost tasks."""

import json
from datetime import timedelta

import pytest
from prometheus_client import REGISTRY

from apps.audit.models import AuditLog
from apps.core.locks import distributed_lock
from apps.delivery.tests.webhook_receiver import signature_valid
from apps.delivery.webhooks.choices import DeliveryStatus
from apps.delivery.webhooks.errors import WebhookEndpointNotEnabled
from apps.delivery.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from apps.delivery.webhooks.services import (
    webhook_callback_secret_ensure,
    webhook_deliveries_sweep,
    webhook_delivery_resend,
    webhook_delivery_send,
    webhook_endpoint_enable,
    webhook_endpoint_rotate_secret,
    webhook_endpoint_update,
    webhook_event_resend,
)
from apps.delivery.webhooks.tasks import webhook_send, webhook_sweep
from apps.messaging.choices import MessageStatus as S
from apps.messaging.state import message_transition

pytestmark = pytest.mark.django_db


def fail(message):
    assert message_transition(message=message, to=S.FAILED, reason="max_attempts")
    return WebhookDelivery.objects.filter(event__message=message).order_by("id")


def send(delivery, now=None):
    return webhook_delivery_send(delivery_id=delivery.pk, now=now)


def reloaded(delivery):
    delivery.refresh_from_db()
    return delivery


def test_a_delivery_is_a_signed_json_post(endpoint, receiver, message_for):
    [delivery] = fail(message_for())
    assert send(delivery) == "succeeded"

    [request] = receiver.requests
    event = WebhookEvent.objects.get()
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.body == event.body.encode()
    assert json.loads(request.body)["data"]["message"]["status"] == "failed"
    assert request.headers["content-type"] == "application/json; charset=utf-8"
    assert request.headers["peerpower-event-id"] == event.public_id
    assert request.headers["peerpower-event-type"] == "message.failed"
    assert request.headers["user-agent"].startswith("PeerPower-Webhooks/")
    assert signature_valid(request.headers["peerpower-signature"], request.body, endpoint.secret)
    # A receiver must refuse what another secret signed, a changed body, and an old timestamp.
    assert not signature_valid(request.headers["peerpower-signature"], request.body, "whsec_wrong")
    assert not signature_valid(request.headers["peerpower-signature"], request.body + b" ", endpoint.secret)
    timestamp = int(request.headers["peerpower-signature"].split(",")[0][2:])
    assert not signature_valid(
        request.headers["peerpower-signature"], request.body, endpoint.secret, now=timestamp + 301
    )

    delivery = reloaded(delivery)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("succeeded", 1, 200)
    assert delivery.succeeded_at is not None and delivery.locked_until is None
    [attempt] = WebhookAttempt.objects.all()
    assert (attempt.number, attempt.outcome, attempt.status_code, attempt.url) == (1, "succeeded", 200, endpoint.url)
    assert attempt.response_excerpt == "received" and attempt.latency_ms >= 0
    assert WebhookEndpoint.objects.get().last_success_at is not None
    # Safe to run twice: nothing more is sent.
    assert webhook_send(delivery.pk) == "skipped"
    assert len(receiver.requests) == 1


def test_callback_url_requests_are_signed_with_the_clients_callback_secret(receiver, message_for, organization):
    [delivery] = fail(message_for(callback_url=receiver.url("/cb?order=7")))
    assert send(delivery) == "succeeded"
    [request] = receiver.requests
    assert request.path == "/cb?order=7"
    secret = webhook_callback_secret_ensure(organization=organization).secret
    assert secret.startswith("whsec_")
    assert signature_valid(request.headers["peerpower-signature"], request.body, secret)


def test_during_a_rotation_both_secrets_sign(endpoint, receiver, message_for, settings):
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=None)
    [delivery] = fail(message_for())
    send(delivery)
    header = receiver.requests[0].headers["peerpower-signature"]
    assert header.count("v1=") == 2
    assert signature_valid(header, receiver.requests[0].body, endpoint.secret)
    assert signature_valid(header, receiver.requests[0].body, old_secret)
    # Past the grace period only the new secret signs.
    [delivery] = fail(message_for())
    send(delivery, now=endpoint.previous_secret_expires_at + timedelta(seconds=1))
    header = receiver.requests[1].headers["peerpower-signature"]
    assert header.count("v1=") == 1
    assert not signature_valid(header, receiver.requests[1].body, old_secret)


def test_retries_with_backoff_until_the_receiver_recovers(endpoint, receiver, message_for):
    receiver.fail_next(2, status=503)
    [delivery] = fail(message_for())
    start = delivery.next_attempt_at

    assert send(delivery, now=start) == "retrying"
    delivery = reloaded(delivery)
    first_wait = (delivery.next_attempt_at - start).total_seconds()
    assert 15 <= first_wait <= 45  # 30 s base, +-50% jitter
    assert (delivery.status, delivery.status_reason, delivery.last_status_code) == ("pending", "http_error", 503)
    # Not due yet: a second task (or an early one) does nothing.
    assert send(delivery, now=start + timedelta(seconds=10)) == "skipped"

    second = delivery.next_attempt_at
    assert send(delivery, now=second) == "retrying"
    delivery = reloaded(delivery)
    assert 30 <= (delivery.next_attempt_at - second).total_seconds() <= 90  # doubled

    third = delivery.next_attempt_at
    assert send(delivery, now=third) == "succeeded"
    attempts = list(WebhookAttempt.objects.order_by("number"))
    assert [(a.number, a.outcome, a.status_code) for a in attempts] == [
        (1, "http_error", 503),
        (2, "http_error", 503),
        (3, "succeeded", 200),
    ]
    assert [a.started_at for a in attempts] == [start, second, third]
    assert attempts[0].error == "HTTP 503" and attempts[0].response_excerpt == "nope"
    # Every try carried the same event, byte for byte.
    assert len({r.body for r in receiver.requests}) == 1 and len(receiver.requests) == 3
    endpoint.refresh_from_db()
    assert (endpoint.consecutive_failures, endpoint.failing_since) == (0, None)


def test_network_errors_and_timeouts_are_retried_and_recorded(
    organization, receiver, message_for, closed_port, settings
):
    from apps.delivery.webhooks.services import webhook_endpoint_create

    dead = webhook_endpoint_create(organization=organization, actor=None, url=f"http://127.0.0.1:{closed_port}/hook")
    slow = webhook_endpoint_create(organization=organization, actor=None, url=receiver.url("/slow"))
    settings.WEBHOOK_READ_TIMEOUT_SECONDS = 0.2
    receiver.delay_seconds = 0.6
    deliveries = {d.endpoint_id: d for d in fail(message_for())}

    assert send(deliveries[dead.pk]) == "retrying"
    assert send(deliveries[slow.pk]) == "retrying"
    outcomes = dict(WebhookAttempt.objects.values_list("delivery__endpoint", "outcome"))
    assert outcomes == {dead.pk: "connection_error", slow.pk: "timeout"}
    assert "ConnectionError" in reloaded(deliveries[dead.pk]).last_error
    assert reloaded(deliveries[slow.pk]).last_status_code is None


def test_gives_up_when_the_retry_window_is_over(endpoint, receiver, message_for, settings):
    settings.WEBHOOK_RETRY_WINDOW_SECONDS = 10  # shorter than the first wait
    receiver.fail_next(5)
    [delivery] = fail(message_for())
    assert send(delivery) == "failed"
    delivery = reloaded(delivery)
    assert (delivery.status, delivery.status_reason, delivery.next_attempt_at) == ("failed", "retry_window_over", None)


def test_redirects_are_not_followed(endpoint, receiver, message_for):
    receiver.answer_next(302, {"Location": receiver.url("/elsewhere")})
    [delivery] = fail(message_for())
    assert send(delivery) == "retrying"
    assert [r.path for r in receiver.requests] == ["/hook"]
    attempt = WebhookAttempt.objects.get()
    assert (attempt.outcome, attempt.status_code) == ("http_error", 302)
    assert "not followed" in attempt.error


def test_an_endpoint_that_keeps_failing_is_disabled_then_staff_re_enable_it(
    endpoint, receiver, message_for, settings, staff
):
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 3
    settings.WEBHOOK_DISABLE_AFTER_SECONDS = 3600
    receiver.fail_next(100)
    [first] = fail(message_for())
    [second] = fail(message_for())
    start = first.next_attempt_at
    assert send(first, now=start) == send(second, now=start) == "retrying"
    assert send(first, now=reloaded(first).next_attempt_at) == "retrying"
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 3 and endpoint.disabled_at is None  # many failures, but a short while

    later = start + timedelta(hours=2)
    assert send(second, now=later) == "retrying"
    endpoint.refresh_from_db()
    assert endpoint.disabled_at == later and "4 failed attempts in a row" in endpoint.disabled_reason
    assert not endpoint.is_enabled
    assert {(d.status, d.status_reason) for d in WebhookDelivery.objects.all()} == {("cancelled", "endpoint_disabled")}
    audit = AuditLog.objects.get(action="webhook_endpoint.disabled")
    assert (audit.actor, audit.actor_label, audit.target_id) == (None, "webhooks", str(endpoint.pk))
    # It receives nothing more: no delivery for new events, and a resend is refused.
    fail(message_for())
    assert WebhookDelivery.objects.count() == 2
    with pytest.raises(WebhookEndpointNotEnabled):
        webhook_delivery_resend(delivery=first, actor=staff)

    receiver.reset()
    assert webhook_endpoint_enable(endpoint=endpoint, actor=staff) is True
    endpoint.refresh_from_db()
    assert (endpoint.disabled_at, endpoint.disabled_reason, endpoint.consecutive_failures) == (None, "", 0)
    assert AuditLog.objects.get(action="webhook_endpoint.enabled").actor == staff
    [third] = fail(message_for())
    assert send(third) == "succeeded"
    resent = webhook_delivery_resend(delivery=first, actor=staff)
    assert (resent.status, resent.status_reason) == ("pending", "resent")
    assert send(resent) == "succeeded"
    assert len(receiver.requests) == 2


def test_deliveries_stop_when_the_client_switches_the_endpoint_off(endpoint, receiver, message_for):
    [delivery] = fail(message_for())
    webhook_endpoint_update(endpoint=endpoint, actor=None, active=False)
    assert send(delivery) == "cancelled"
    assert (reloaded(delivery).status, delivery.status_reason) == ("cancelled", "endpoint_inactive")
    assert delivery.attempt_count == 0 and not WebhookAttempt.objects.exists()
    assert receiver.requests == []


def test_staff_resend_a_delivered_event(endpoint, receiver, message_for, staff):
    [delivery] = fail(message_for())
    send(delivery)
    event = delivery.event
    assert webhook_event_resend(event=event, actor=staff) == 1
    delivery = reloaded(delivery)
    assert delivery.status == "pending" and delivery.retry_until > delivery.next_attempt_at
    assert send(delivery) == "succeeded"
    assert [r.headers["peerpower-event-id"] for r in receiver.requests] == [event.public_id] * 2
    audit = AuditLog.objects.get(action="webhook_delivery.resent")
    assert (audit.actor, audit.before["status"], audit.after["status"]) == (staff, "succeeded", "pending")
    assert WebhookAttempt.objects.filter(delivery=delivery).count() == 2


def test_the_sweeper_enqueues_deliveries_whose_task_was_lost(
    endpoint, receiver, message_for, settings, django_capture_on_commit_callbacks
):
    [lost] = fail(message_for())
    [in_flight] = fail(message_for())
    due = lost.next_attempt_at
    # A worker took `in_flight` and died mid-request: its claim holds until the lease ends.
    WebhookDelivery.objects.filter(pk=in_flight.pk).update(locked_until=due + timedelta(minutes=10))

    assert webhook_deliveries_sweep(now=due + timedelta(seconds=30)) == 0  # within the grace period
    with django_capture_on_commit_callbacks() as callbacks:
        assert webhook_deliveries_sweep(now=due + timedelta(minutes=2)) == 1
    assert len(callbacks) == 1
    assert reloaded(lost).next_attempt_at == due + timedelta(minutes=2)
    assert webhook_deliveries_sweep(now=due + timedelta(minutes=2, seconds=30)) == 0  # just enqueued
    assert send(lost, now=due + timedelta(minutes=2)) == "succeeded"
    # Once the dead worker's lease is over, its delivery is swept and sent too.
    assert webhook_deliveries_sweep(now=due + timedelta(minutes=11)) == 1
    assert send(in_flight, now=due + timedelta(minutes=11)) == "succeeded"
    assert len(receiver.requests) == 2


def test_the_sweep_task_runs_under_a_lock(endpoint, message_for, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_SWEEP_GRACE_SECONDS = 0
    fail(message_for())
    with distributed_lock("delivery.webhook_sweep", ttl=30) as acquired:
        assert acquired
        assert webhook_sweep() == 0  # another beat's sweep holds it
    with django_capture_on_commit_callbacks():
        assert webhook_sweep() == 1


def test_attempts_are_counted_and_timed_in_metrics(endpoint, receiver, message_for):
    def sample(name, outcome):
        return REGISTRY.get_sample_value(name, {"outcome": outcome}) or 0

    before = sample("peerpower_webhook_attempts_total", "succeeded")
    timed = sample("peerpower_webhook_latency_seconds_count", "succeeded")
    [delivery] = fail(message_for())
    send(delivery)
    assert sample("peerpower_webhook_attempts_total", "succeeded") == before + 1
    assert sample("peerpower_webhook_latency_seconds_count", "succeeded") == timed + 1


def test_delivery_status_stays_valid_in_the_database(endpoint, message_for):
    [delivery] = fail(message_for())
    assert delivery.status == DeliveryStatus.PENDING
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=None)  # pending needs a due time
