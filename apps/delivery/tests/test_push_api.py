"""The push API every caller uses: requests are checked, the configured backend is used, every push is counted."""

import logging
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY

from apps.delivery.push import PushBackend, PushOutcome, PushRequest, PushResult, push_send, push_send_many
from apps.delivery.tests.helpers import delivery_check_ids


class RefusingBackend(PushBackend):
    """A backend chosen by dotted path: refuses every push, so its results are easy to tell apart."""

    def send_many(self, requests: Sequence[PushRequest]) -> list[PushResult]:
        return [PushResult(outcome=PushOutcome.FAILED, error_code="REFUSED") for _ in requests]


class ForgetfulBackend(PushBackend):
    def send_many(self, requests: Sequence[PushRequest]) -> list[PushResult]:
        return []


def offer(token: str = "device-token-1") -> PushRequest:
    return PushRequest(token=token, data={"job": "42", "kind": "offer"}, ttl_seconds=30)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"token": ""}, "device token"),
        ({"ttl_seconds": -1}, "ttl_seconds"),
        ({"ttl_seconds": 28 * 24 * 3600 + 1}, "ttl_seconds"),
        ({"ttl_seconds": 1.5}, "ttl_seconds"),
        ({"data": {}}, "needs data"),
        ({"data": {"job": 42}}, "strings"),
        ({"data": {"from": "x"}}, "reserves"),
        ({"data": {"google.sent_time": "1"}}, "reserves"),
        ({"data": {"job": "42", "body": "ក" * 1400}}, "4096 bytes"),
    ],
)
def test_a_request_fcm_would_refuse_is_a_programming_error(changes, problem):
    fields = {"token": "device-token-1", "data": {"job": "42", "kind": "offer"}, "ttl_seconds": 30, **changes}

    with pytest.raises(ValueError, match=problem):
        PushRequest(**fields)


def test_the_log_backend_logs_the_push_without_the_device_token(settings, caplog):
    settings.PUSH_BACKEND = "log"

    with caplog.at_level(logging.INFO, logger="peerpower.push"):
        result = push_send(request=offer("secret-device-token"))

    assert result.outcome is PushOutcome.SENT
    assert result.message_id.startswith("log:")
    assert "{'job': '42', 'kind': 'offer'}" in caplog.text
    assert "secret-device-token" not in caplog.text


def test_the_log_backend_answers_each_request_of_a_batch(settings):
    settings.PUSH_BACKEND = "log"

    results = push_send_many(requests=[offer("a"), offer("b")])

    assert [result.outcome for result in results] == [PushOutcome.SENT, PushOutcome.SENT]
    assert results[0].message_id != results[1].message_id


def test_push_backend_may_be_a_dotted_path(settings):
    settings.PUSH_BACKEND = f"{__name__}.RefusingBackend"

    assert push_send(request=offer()).error_code == "REFUSED"


def test_a_backend_that_loses_results_is_caught(settings):
    settings.PUSH_BACKEND = f"{__name__}.ForgetfulBackend"

    with pytest.raises(RuntimeError, match="0 results for 1 requests"):
        push_send_many(requests=[offer()])


def test_pushes_are_counted_by_outcome_and_error_code_and_timed(settings, client):
    settings.PUSH_BACKEND = f"{__name__}.RefusingBackend"
    labels = {"outcome": "failed", "error_code": "REFUSED"}
    before = REGISTRY.get_sample_value("peerpower_push_total", labels) or 0
    timed_before = REGISTRY.get_sample_value("peerpower_push_latency_seconds_count", {"outcome": "failed"}) or 0

    push_send_many(requests=[offer("a"), offer("b")])

    assert REGISTRY.get_sample_value("peerpower_push_total", labels) == before + 2
    assert REGISTRY.get_sample_value("peerpower_push_latency_seconds_count", {"outcome": "failed"}) == timed_before + 2
    exposed = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert 'peerpower_push_total{error_code="REFUSED",outcome="failed"}' in exposed


def test_sent_pushes_are_counted_with_an_empty_error_code(settings):
    settings.PUSH_BACKEND = "log"
    labels = {"outcome": "sent", "error_code": ""}
    before = REGISTRY.get_sample_value("peerpower_push_total", labels) or 0

    push_send(request=offer())

    assert REGISTRY.get_sample_value("peerpower_push_total", labels) == before + 1


def test_system_checks_accept_the_log_backend(settings):
    settings.PUSH_BACKEND = "log"

    assert delivery_check_ids() == []


@pytest.mark.parametrize("backend", ["apps.delivery.nowhere.Backend", "apps.delivery.push.PushRequest"])
def test_system_checks_refuse_an_unknown_backend(settings, backend):
    settings.PUSH_BACKEND = backend

    assert delivery_check_ids() == ["delivery.E001"]
