"""`manage.py fcm_fake`: a standalone fake FCM that the app reaches with the variables it prints."""

import os
import queue
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.delivery.push import PushOutcome, PushRequest, push_send


@pytest.fixture
def fcm_fake_process(tmp_path) -> Iterator[tuple[subprocess.Popen, "queue.Queue[str]"]]:
    process = subprocess.Popen(
        [
            sys.executable,
            "manage.py",
            "fcm_fake",
            "--port",
            "0",
            "--credentials-file",
            str(tmp_path / "service-account.json"),
            "--fail-token",
            "dead-device=UNREGISTERED",
        ],
        cwd=django_settings.BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "peerpower.settings.test", "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in process.stdout], daemon=True).start()
    yield process, lines
    process.terminate()
    process.wait(timeout=10)


def read_until(lines: "queue.Queue[str]", text: str) -> list[str]:
    seen = []
    while not seen or text not in seen[-1]:
        seen.append(lines.get(timeout=30))
    return seen


def test_the_app_pushes_through_the_standalone_fake_with_the_printed_settings(fcm_fake_process, settings):
    _, lines = fcm_fake_process
    printed = read_until(lines, "export FCM_CREDENTIALS_FILE=")
    exports = {}
    for line in printed:
        if line.strip().startswith("export "):
            name, value = shlex.split(line.strip().removeprefix("export "))[0].split("=", 1)
            exports[name] = value
    assert set(exports) == {"PUSH_BACKEND", "FCM_ENDPOINT", "FCM_PROJECT_ID", "FCM_CREDENTIALS_FILE"}
    for name, value in exports.items():
        setattr(settings, name, value)

    sent = push_send(request=PushRequest(token="device-1", data={"job": "7", "kind": "offer"}, ttl_seconds=60))
    dead = push_send(request=PushRequest(token="dead-device", data={"job": "8", "kind": "offer"}, ttl_seconds=60))

    assert sent.outcome is PushOutcome.SENT
    assert sent.message_id.startswith(f"projects/{exports['FCM_PROJECT_ID']}/messages/")
    assert (dead.outcome, dead.error_code) == (PushOutcome.TOKEN_DEAD, "UNREGISTERED")
    # The fake logs what it received, for whoever watches the demo.
    assert "token=device-1 data={'job': '7', 'kind': 'offer'}" in "".join(read_until(lines, "token=device-1"))


def test_an_unknown_error_code_is_refused_before_serving():
    with pytest.raises(CommandError, match="Unknown FCM error code 'NOT_A_CODE'"):
        call_command("fcm_fake", "--port", "0", "--fail-token", "device=NOT_A_CODE")
