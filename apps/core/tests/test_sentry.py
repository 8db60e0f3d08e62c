"""Error tracking: with SENTRY_DSN set, an unhandled error in a view and in a Celery task reaches Sentry (a local
server speaking Sentry's envelope protocol stands in for it), without bodies, phone numbers or credentials; with it
unset, nothing is reported."""

import json

import pytest

from apps.core.sentry import scrub_event
from apps.core.sentry_fake import SentryFake
from apps.core.tests.conftest import worker_process
from peerpower.celery import app

PHONE = "+85512345678"
NATIONAL_PHONE = "012 345 678"
BODY = "Your code is 482913"
API_KEY = "pp_live_5ecret-api-key"

# Through Django's WSGI handler, as gunicorn calls it (Sentry's Django integration wraps that handler).
REQUEST_WITH_A_BUG = f"""
import io, json, wsgiref.util
import django; django.setup()
import sentry_sdk
from django.core.wsgi import get_wsgi_application
from django.test import override_settings

body = json.dumps({{"to": "{PHONE}", "body": "{BODY}"}}).encode()
environ = {{
    "REQUEST_METHOD": "POST", "PATH_INFO": "/broken", "QUERY_STRING": "to={PHONE}", "HTTP_HOST": "localhost",
    "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)), "wsgi.input": io.BytesIO(body),
    "HTTP_AUTHORIZATION": "Bearer {API_KEY}", "HTTP_X_API_KEY": "{API_KEY}",
}}
wsgiref.util.setup_testing_defaults(environ)
statuses = []
with override_settings(ROOT_URLCONF="apps.core.tests.sentry_urls"):
    b"".join(get_wsgi_application()(environ, lambda status, headers, exc_info=None: statuses.append(status)))
print(statuses[0].split()[0])
print(sentry_sdk.get_client().is_active())
sentry_sdk.flush(10)
"""


@pytest.fixture
def sentry():
    with SentryFake() as fake:
        yield fake


def leaks(raw: bytes) -> list[str]:
    text = raw.decode("utf-8", "replace")
    secrets = [PHONE, PHONE.removeprefix("+"), NATIONAL_PHONE, BODY, API_KEY]
    return [secret for secret in secrets if secret in text or json.dumps(secret)[1:-1] in text]


def test_an_unhandled_error_in_a_view_is_reported_scrubbed(sentry, run_python):
    result = run_python("-c", REQUEST_WITH_A_BUG, env={"SENTRY_DSN": sentry.dsn})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["500", "True"]  # the last lines: logs come first
    [event] = sentry.wait_for_events(1, timeout=30)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert exception["value"] == "could not route the message to [phone]"
    assert event["request"]["url"].endswith("/broken")
    assert event["request"]["headers"]["Authorization"] == "[Filtered]"
    assert "data" not in event["request"] and "user" not in event
    assert leaks(b"".join(sentry.raw)) == []


def test_without_a_dsn_nothing_is_reported(sentry, run_python):
    result = run_python("-c", REQUEST_WITH_A_BUG, env={"SENTRY_DSN": None})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["500", "False"]
    with pytest.raises(TimeoutError):
        sentry.wait_for_events(1, timeout=2)


def test_an_unhandled_error_in_a_task_is_reported_scrubbed(sentry, tmp_path):
    with worker_process(tmp_path, env={"SENTRY_DSN": sentry.dsn}):
        # A task called with arguments it does not take fails in the worker (send_task skips the caller's check).
        app.send_task("core.ping", args=[PHONE, BODY, NATIONAL_PHONE], queue="default")
        [event] = sentry.wait_for_events(1, timeout=90)
    [exception] = event["exception"]["values"]
    assert exception["type"] == "TypeError"
    assert event["extra"]["celery-job"]["task_name"] == "core.ping"
    assert "args" not in event["extra"]["celery-job"]
    assert leaks(b"".join(sentry.raw)) == []


def test_scrubbing_masks_numbers_everywhere_and_drops_credentials():
    event = {
        "request": {
            "url": f"https://api.example/api/messages?to={PHONE}",
            "query_string": f"to={PHONE}",
            "data": {"body": BODY},
            "cookies": {"sessionid": "abc"},
            "headers": {"X-Api-Key": API_KEY, "Peerpower-Signature": "t=1,v1=ff", "Accept": "application/json"},
        },
        "logentry": {"message": f"sending to {NATIONAL_PHONE} failed", "params": [PHONE]},
        "breadcrumbs": {"values": [{"category": "query", "message": "SELECT 1", "data": {"params": [PHONE]}}]},
        "user": {"id": 7, "ip_address": "203.0.113.9"},
    }
    scrubbed = scrub_event(event)
    assert leaks(json.dumps(scrubbed).encode()) == []
    assert scrubbed["request"]["headers"] == {
        "X-Api-Key": "[Filtered]",
        "Peerpower-Signature": "[Filtered]",
        "Accept": "application/json",
    }
    assert scrubbed["logentry"]["message"] == "sending to [phone] failed"
