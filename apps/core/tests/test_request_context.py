"""X-Request-ID in and out, carried into log lines and Celery task headers."""

import json
import logging
import time

import pytest

from apps.core.context import request_id_var, reset_context
from apps.core.logging import ContextFilter, JsonFormatter
from apps.core.signals import carry_request_id


def test_request_id_is_returned_when_given(client):
    response = client.get("/health", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"


def test_request_id_is_created_when_missing(client):
    first = client.get("/health")["X-Request-ID"]
    second = client.get("/health")["X-Request-ID"]
    assert len(first) == 32 and first != second


@pytest.mark.parametrize("bad", ["x" * 200, "line\nbreak", "<script>", "a b"])
def test_unsafe_request_ids_are_replaced(client, bad):
    returned = client.get("/health", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
    assert returned != bad and len(returned) == 32


def test_log_lines_carry_the_request_id(client, caplog):
    with caplog.at_level(logging.INFO, logger="peerpower.request"):
        client.get("/health", HTTP_X_REQUEST_ID="trace-me")
    record = next(r for r in caplog.records if r.name == "peerpower.request")
    ContextFilter().filter(record)
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "trace-me"
    assert line["message"] == "GET /health 200"
    assert line["status"] == 200


def test_json_lines_mask_secret_looking_extras():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "otp sent", None, None)
    record.otp_code = "123456"
    record.api_key = "pp_live_secret"
    record.body = "Your code is 123456"
    record.phone_count = 3
    line = json.loads(JsonFormatter().format(record))
    assert line["otp_code"] == line["api_key"] == line["body"] == "[redacted]"
    assert line["phone_count"] == 3
    assert "123456" not in json.dumps(line)


def test_enqueued_tasks_carry_the_request_id():
    reset_context(request_id="req-42")
    headers: dict = {}
    before = time.time()
    carry_request_id(headers=headers)
    assert headers["request_id"] == "req-42"
    assert before <= headers["published_at"] <= time.time()  # the worker measures the task's wait in the queue from it
    assert set(headers) == {"request_id", "published_at"}
    reset_context()
    assert request_id_var.get() is None
