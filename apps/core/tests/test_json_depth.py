"""Over-deep JSON is refused before it is parsed, and the interpreter's recursion limit stays at its default.

A body nested ~100,000 levels deep used to kill a gunicorn worker (SIGSEGV in the C JSON decoder, because py_ecc
raises the recursion limit to 100,000); the last test sends one to a real gunicorn process.
"""

import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from apps.core.parsers import json_depth_exceeds

DEEP_BODY = "[" * 100_000 + "]" * 100_000  # about 200 KB


def nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("text", "limit", "exceeds"),
    [
        (nested(3), 3, False),
        (nested(4), 3, True),
        ("[[[]],[[]],[[]]]", 3, False),  # many brackets, never more than three open
        ('{"a": "[[[[[[[["}', 1, False),  # brackets inside a string do not count
        ('{"a": "\\"[[[[[[", "b": "]]]"}', 1, False),  # nor after an escaped quote
        ('["\\\\", [[[]]]]', 3, True),  # an escaped backslash ends the string
        ('"[[[[[[[[', 1, False),  # inside an unterminated string: the decoder refuses it without descending
        ('[[[["\\u0022[[[["]]]]', 4, False),  # an escaped quote in \u form does not end the string
        (DEEP_BODY, 32, True),
    ],
)
def test_depth_is_counted_outside_strings(text, limit, exceeds):
    assert json_depth_exceeds(text, limit) is exceeds


# 100,000 levels are sent to a real server below: on a regression this process would crash, not fail.
@pytest.mark.parametrize("depth", [settings.API_JSON_MAX_DEPTH + 1, 10_000])
def test_an_over_deep_body_is_a_400_with_its_code(api_client, depth):
    body = "[" * depth + "]" * depth
    response = api_client.post("/api/auth/otp/request", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "json_too_deep"
    assert response.json()["details"] == {"max_depth": settings.API_JSON_MAX_DEPTH}


@pytest.mark.django_db
def test_a_body_at_the_limit_is_parsed(api_client):
    depth = settings.API_JSON_MAX_DEPTH - 1
    response = api_client.post(
        "/api/auth/otp/request", '{"phone": "012 345 678", "x":' + nested(depth) + "}", content_type="application/json"
    )
    assert response.status_code == 202, response.json()


def test_the_audit_inbound_endpoint_uses_the_same_parser(api_client, settings):
    settings.AUDIT_INBOUND_TOKEN = "audit-token"
    response = api_client.post(
        "/api/audit/inbound", nested(64), content_type="application/json", HTTP_AUTHORIZATION="Bearer audit-token"
    )
    assert (response.status_code, response.json()["code"]) == (400, "json_too_deep")


def test_the_recursion_limit_is_the_default_once_everything_is_imported(run_python):
    # A fresh process: everything the web process imports (every app, its URLs and views, eth-account, py_ecc).
    code = (
        "import sys, django; django.setup(); import peerpower.wsgi, peerpower.urls, peerpower.celery; "
        "import eth_account, py_ecc; from django.urls import get_resolver; get_resolver().url_patterns; "
        "print(sys.getrecursionlimit())"
    )
    result = run_python("-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "1000"


@pytest.fixture
def gunicorn(closed_port, tmp_path) -> Iterator[int]:
    """A real gunicorn (one sync worker) serving the project on a free local port."""
    environment = {**os.environ, "DJANGO_SETTINGS_MODULE": "peerpower.settings.test"}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "gunicorn.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{closed_port}", "--workers", "1", "peerpower.wsgi"],
        cwd=settings.BASE_DIR,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while request(closed_port, "GET", "/health") is None:
            assert process.poll() is None, (tmp_path / "gunicorn.log").read_text()
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield closed_port
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        print((tmp_path / "gunicorn.log").read_text())  # shown when the test fails


def request(port: int, method: str, path: str, body: str | None = None) -> tuple[int, bytes] | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    except (ConnectionError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def test_a_real_server_refuses_a_deep_body_and_keeps_serving(gunicorn):
    answer = request(gunicorn, "POST", "/api/auth/otp/request", DEEP_BODY)
    assert answer is not None, "the worker died"
    status, body = answer
    assert (status, json.loads(body)["code"]) == (400, "json_too_deep")
    assert request(gunicorn, "GET", "/health") == (200, b'{"status": "ok"}')
