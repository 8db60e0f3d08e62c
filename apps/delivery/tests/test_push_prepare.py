"""The push backend built before a Celery worker forks its pool: the pool processes inherit firebase-admin's app
instead of each building its own at its first push."""

import json
import os

import firebase_admin
from celery.signals import worker_init

from apps.delivery.push import PushOutcome, PushRequest, push_backend_prepare, push_send_many
from apps.delivery.push.fcm import APP_NAME, firebase_app


def offer(token: str, job: str) -> PushRequest:
    return PushRequest(token=token, data={"job": job, "kind": "offer"}, ttl_seconds=30)


def test_a_worker_prepares_the_push_backend_when_it_starts():
    # Celery sends worker_init in the worker's main process, before the pool forks.
    assert any(key[0] == "delivery.push_backend_prepare" for key, _ in worker_init.receivers)


def test_prepared_before_a_fork_the_child_pushes_with_the_parents_app(fcm_fake, settings):
    # A timeout no earlier test used: the app is (re)built for it by the preparation, not by a push.
    settings.FCM_TIMEOUT_SECONDS = 7.25

    push_backend_prepare()

    app = firebase_admin.get_app(APP_NAME)
    assert app.options.get("httpTimeout") == 7.25
    assert fcm_fake.messages == []  # nothing was sent to build it
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # the pool process: push, and say whether it used the inherited app
        try:
            results = push_send_many(requests=[offer("device-token-1", "1"), offer("device-token-2", "2")])
            answer = {"same_app": firebase_app() is app, "outcomes": [result.outcome.value for result in results]}
        except BaseException as error:  # noqa: BLE001 - reported to the parent, which fails the test
            answer = {"error": repr(error)}
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answer = json.loads(pipe.read())
    os.waitpid(child, 0)
    assert answer == {"same_app": True, "outcomes": [PushOutcome.SENT.value, PushOutcome.SENT.value]}
    assert sorted(message.body["message"]["token"] for message in fcm_fake.accepted) == [
        "device-token-1",
        "device-token-2",
    ]


def test_a_backend_that_cannot_be_prepared_leaves_the_worker_starting(settings, caplog):
    settings.PUSH_BACKEND = "fcm"
    settings.FCM_CREDENTIALS_FILE = "/nonexistent/service-account.json"

    push_backend_prepare()  # logs, does not raise: the first push reports the misconfiguration as before

    assert "could not prepare" in caplog.text
