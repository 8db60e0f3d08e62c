"""The FCM backend: the real firebase-admin client over HTTP to the local FCM fake (FCM HTTP v1 + OAuth)."""

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.delivery.fcm_fake import write_service_account
from apps.delivery.push import PushOutcome, PushRequest, push_send, push_send_many
from apps.delivery.push.fcm import FcmPushBackend
from apps.delivery.tests.helpers import delivery_check_ids


def offer(token: str, *, job: str = "42", ttl_seconds: int = 30, collapse_key: str | None = None) -> PushRequest:
    return PushRequest(
        token=token, data={"job": job, "kind": "offer"}, ttl_seconds=ttl_seconds, collapse_key=collapse_key
    )


class SmallBatchFcmBackend(FcmPushBackend):
    """Chosen by dotted path, so a handful of pushes spans several chunks."""

    chunk_size = 2


def test_a_push_reaches_fcm_as_a_minimal_data_only_high_priority_message(fcm_fake):
    result = push_send(request=offer("device-token-1", job="42", ttl_seconds=95))

    assert result.outcome is PushOutcome.SENT
    assert result.error_code is None
    assert result.latency_seconds > 0
    [received] = fcm_fake.messages
    assert result.message_id == received.message_id == "projects/peerpower-test/messages/1"
    # Data only, and nothing but what the caller gave: no notification, no other platform block, no added keys.
    assert received.body == {
        "message": {
            "token": "device-token-1",
            "data": {"job": "42", "kind": "offer"},
            "android": {"priority": "high", "ttl": "95s"},
        }
    }
    assert received.project_id == "peerpower-test"
    assert received.headers["authorization"].startswith("Bearer ya29.fake-")


@pytest.mark.parametrize("ttl_seconds", [0, 1, 600, 28 * 24 * 3600])
def test_the_ttl_is_the_time_left_on_the_lease(fcm_fake, ttl_seconds):
    push_send(request=offer("device-token-1", ttl_seconds=ttl_seconds))

    assert fcm_fake.accepted[0].android["ttl"] == f"{ttl_seconds}s"


def test_a_collapse_key_replaces_an_older_push_for_the_same_job(fcm_fake):
    push_send(request=offer("device-token-1", collapse_key="job-42"))

    assert fcm_fake.accepted[0].android == {"priority": "high", "ttl": "30s", "collapse_key": "job-42"}


@pytest.mark.parametrize(
    ("error_code", "message", "outcome"),
    [
        ("UNREGISTERED", None, PushOutcome.TOKEN_DEAD),
        ("SENDER_ID_MISMATCH", None, PushOutcome.TOKEN_DEAD),
        ("INVALID_ARGUMENT", None, PushOutcome.TOKEN_DEAD),  # FCM's "not a valid FCM registration token"
        # INVALID_ARGUMENT about our message rather than the token: the token is not to blame.
        ("INVALID_ARGUMENT", "Invalid value at 'message.android.ttl'", PushOutcome.FAILED),
        ("QUOTA_EXCEEDED", None, PushOutcome.RETRYABLE),
        ("THIRD_PARTY_AUTH_ERROR", None, PushOutcome.FAILED),
    ],
)
def test_each_fcm_error_has_its_outcome(fcm_fake, error_code, message, outcome):
    fcm_fake.fail_token("device-token-1", error_code, message=message)

    result = push_send(request=offer("device-token-1"))

    assert (result.outcome, result.error_code, result.message_id) == (outcome, error_code, None)
    assert fcm_fake.messages[-1].error_code == error_code
    assert fcm_fake.accepted == []


def test_server_errors_are_retried_by_firebase_admin_then_reported_retryable(fcm_fake):
    # firebase-admin retries HTTP 500 and 503 four times, with backoff (0+1+2+4 s) or as Retry-After says, before
    # giving up; the three go in one batch so the wait is paid once.
    fcm_fake.fail_token("t-unavailable", "UNAVAILABLE", retry_after_seconds=1)
    fcm_fake.fail_token("t-internal", "INTERNAL")
    fcm_fake.fail_token("t-unspecified", "UNSPECIFIED_ERROR")

    results = push_send_many(requests=[offer("t-unavailable"), offer("t-internal"), offer("t-unspecified")])

    assert [(r.outcome, r.error_code, r.retry_after_seconds) for r in results] == [
        (PushOutcome.RETRYABLE, "UNAVAILABLE", 1),
        (PushOutcome.RETRYABLE, "INTERNAL", None),
        (PushOutcome.FAILED, "UNSPECIFIED_ERROR", None),
    ]
    attempts = [message.token for message in fcm_fake.messages]
    assert {token: attempts.count(token) for token in set(attempts)} == {
        "t-unavailable": 5,
        "t-internal": 5,
        "t-unspecified": 5,
    }


def test_send_many_returns_each_outcome_in_request_order(fcm_fake):
    fcm_fake.fail_token("dead", "UNREGISTERED")
    fcm_fake.fail_token("busy", "QUOTA_EXCEEDED")
    fcm_fake.fail_token("refused", "THIRD_PARTY_AUTH_ERROR")
    tokens = ["ok-1", "dead", "busy", "ok-2", "refused"]

    results = push_send_many(requests=[offer(token, job=str(index)) for index, token in enumerate(tokens)])

    assert [result.outcome for result in results] == [
        PushOutcome.SENT,
        PushOutcome.TOKEN_DEAD,
        PushOutcome.RETRYABLE,
        PushOutcome.SENT,
        PushOutcome.FAILED,
    ]
    # Each result belongs to its own request: the message id FCM gave that token.
    answered = {message.token: message.message_id for message in fcm_fake.accepted}
    assert [results[0].message_id, results[3].message_id] == [answered["ok-1"], answered["ok-2"]]
    assert {message.data["job"] for message in fcm_fake.accepted} == {"0", "3"}


def test_send_many_spreads_large_batches_over_several_chunks(fcm_fake, settings):
    settings.PUSH_BACKEND = f"{__name__}.SmallBatchFcmBackend"
    fcm_fake.fail_token("t-3", "UNREGISTERED")
    tokens = [f"t-{index}" for index in range(5)]

    results = push_send_many(requests=[offer(token) for token in tokens])

    answered = {message.token: message.message_id for message in fcm_fake.accepted}
    assert [result.message_id for result in results] == [answered.get(token) for token in tokens]
    assert [result.outcome for result in results].count(PushOutcome.TOKEN_DEAD) == 1
    assert results[3].outcome is PushOutcome.TOKEN_DEAD


def test_send_many_of_nothing_sends_nothing(fcm_fake):
    assert push_send_many(requests=[]) == []
    assert fcm_fake.messages == []


def test_a_dead_token_stays_dead_while_other_devices_are_served(fcm_fake):
    fcm_fake.fail_token("dead-device", "UNREGISTERED")

    first = push_send(request=offer("dead-device"))
    other = push_send(request=offer("live-device"))
    again = push_send(request=offer("dead-device"))

    assert (first.outcome, other.outcome, again.outcome) == (
        PushOutcome.TOKEN_DEAD,
        PushOutcome.SENT,
        PushOutcome.TOKEN_DEAD,
    )
    assert [message.token for message in fcm_fake.accepted] == ["live-device"]


def test_transient_quota_errors_for_the_next_sends_then_success(fcm_fake):
    fcm_fake.fail_next("QUOTA_EXCEEDED", count=2)

    results = [push_send(request=offer("device-token-1")) for _ in range(3)]

    assert [result.outcome for result in results] == [PushOutcome.RETRYABLE, PushOutcome.RETRYABLE, PushOutcome.SENT]
    assert [result.error_code for result in results] == ["QUOTA_EXCEEDED", "QUOTA_EXCEEDED", None]
    assert len(fcm_fake.messages) == 3


def test_firebase_admin_itself_waits_out_a_quota_retry_after(fcm_fake):
    # With Retry-After, firebase-admin (urllib3) sleeps that long and retries, up to 4 times, before returning: a
    # push can block its thread for 4 x Retry-After. Pinned here because the callers' time budgets depend on it.
    fcm_fake.fail_next("QUOTA_EXCEEDED", count=1, retry_after_seconds=1)

    result = push_send(request=offer("device-token-1"))

    assert result.outcome is PushOutcome.SENT
    assert result.latency_seconds >= 1
    assert [message.http_status for message in fcm_fake.messages] == [429, 200]


def test_a_short_unavailability_is_absorbed_by_firebase_admin_retries(fcm_fake):
    fcm_fake.fail_next("UNAVAILABLE", count=2)

    result = push_send(request=offer("device-token-1"))

    assert result.outcome is PushOutcome.SENT
    assert [message.http_status for message in fcm_fake.messages] == [503, 503, 200]


def test_a_new_service_account_fetches_an_access_token_from_its_token_uri(fcm_fake, settings, tmp_path):
    settings.FCM_CREDENTIALS_FILE = str(fcm_fake.write_service_account(tmp_path / "rotated.json"))

    push_send(request=offer("device-token-1"))
    push_send(request=offer("device-token-2"))

    # One token for both pushes: google-auth caches it until it nears expiry.
    assert fcm_fake.token_grants == 1
    assert [message.accepted for message in fcm_fake.messages] == [True, True]


def test_a_revoked_access_token_is_refreshed_and_the_push_goes_through(fcm_fake):
    push_send(request=offer("device-token-1"))
    grants_before = fcm_fake.token_grants
    fcm_fake.revoke_access_tokens()

    result = push_send(request=offer("device-token-1"))

    assert result.outcome is PushOutcome.SENT
    assert fcm_fake.token_grants == grants_before + 1
    assert [message.http_status for message in fcm_fake.messages[-2:]] == [401, 200]


def test_credentials_the_token_endpoint_does_not_know_fail_without_reaching_fcm(fcm_fake, settings, tmp_path):
    # A key the fake never saw: its signature cannot be verified, as with a deleted key at Google.
    path = write_service_account(
        tmp_path / "unknown.json", token_uri=fcm_fake.token_uri, project_id=fcm_fake.project_id
    )
    settings.FCM_CREDENTIALS_FILE = str(path)

    single = push_send(request=offer("device-token-1"))
    batch = push_send_many(requests=[offer("device-token-1"), offer("device-token-2")])

    assert (single.outcome, single.error_code) == (PushOutcome.FAILED, "AUTH_FAILED")
    assert [(r.outcome, r.error_code) for r in batch] == [(PushOutcome.FAILED, "AUTH_FAILED")] * 2
    assert fcm_fake.messages == []


def test_an_unreachable_token_endpoint_is_retryable(fcm_fake, settings, tmp_path, closed_port):
    path = write_service_account(
        tmp_path / "offline.json", token_uri=f"http://127.0.0.1:{closed_port}/token", project_id="peerpower-test"
    )
    settings.FCM_CREDENTIALS_FILE = str(path)

    single = push_send(request=offer("device-token-1"))
    batch = push_send_many(requests=[offer("device-token-1"), offer("device-token-2")])

    assert (single.outcome, single.error_code) == (PushOutcome.RETRYABLE, "AUTH_UNAVAILABLE")
    assert [(r.outcome, r.error_code) for r in batch] == [(PushOutcome.RETRYABLE, "AUTH_UNAVAILABLE")] * 2


def test_an_unreachable_fcm_is_a_retryable_connection_error(fcm_fake, settings, closed_port):
    settings.FCM_ENDPOINT = f"http://127.0.0.1:{closed_port}"

    result = push_send(request=offer("device-token-1"))

    assert (result.outcome, result.error_code) == (PushOutcome.RETRYABLE, "CONNECTION_ERROR")
    assert fcm_fake.messages == []


def test_a_slow_fcm_times_out_and_is_retryable_though_it_may_have_received_the_push(fcm_fake, settings):
    settings.FCM_TIMEOUT_SECONDS = 0.2
    fcm_fake.latency_seconds = 0.5

    result = push_send(request=offer("device-token-1"))

    assert (result.outcome, result.error_code) == (PushOutcome.RETRYABLE, "TIMEOUT")
    # firebase-admin retries a read timeout once; FCM got both: a timed-out push may still reach the phone twice.
    assert [message.accepted for message in fcm_fake.messages] == [True, True]


def test_a_project_the_credentials_may_not_use_is_refused(fcm_fake, settings):
    settings.FCM_PROJECT_ID = "someone-elses-project"

    result = push_send(request=offer("device-token-1"))

    assert (result.outcome, result.error_code) == (PushOutcome.FAILED, "PERMISSION_DENIED")
    assert fcm_fake.messages[0].project_id == "someone-elses-project"


def test_fcm_without_credentials_is_a_configuration_error(settings):
    settings.PUSH_BACKEND = "fcm"
    settings.FCM_CREDENTIALS_FILE = ""

    with pytest.raises(ImproperlyConfigured, match="FCM_CREDENTIALS_FILE"):
        push_send(request=offer("device-token-1"))


def test_system_checks_accept_a_service_account_file(settings, fcm_credentials_file):
    settings.PUSH_BACKEND = "fcm"
    settings.FCM_CREDENTIALS_FILE = str(fcm_credentials_file)

    assert delivery_check_ids() == []


@pytest.mark.parametrize("contents", [None, "not json", '{"type": "authorized_user", "client_id": "x"}'])
def test_system_checks_refuse_fcm_without_a_service_account_file(settings, tmp_path, contents):
    path = tmp_path / "service-account.json"
    if contents is not None:
        path.write_text(contents)
    settings.PUSH_BACKEND = "fcm"
    settings.FCM_CREDENTIALS_FILE = str(path)

    assert delivery_check_ids() == ["delivery.E002"]


def test_batches_of_pushes_reuse_one_bounded_pool_of_threads(fcm_fake, settings, monkeypatch):
    settings.FCM_PUSH_THREADS = 3
    push_send_many(requests=[offer("warm-1"), offer("warm-2")])  # the pool for this size exists
    started = []
    original_start = threading.Thread.start

    def counting_start(thread: threading.Thread) -> None:
        if "process_request_thread" not in thread.name:  # not the in-process fake's own threads
            started.append(thread.name)
        original_start(thread)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for batch in range(3):
        results = push_send_many(requests=[offer(f"t-{batch}-{index}", job=str(index)) for index in range(20)])
        assert {result.outcome for result in results} == {PushOutcome.SENT}

    # 60 pushes, at most 3 at a time on the pool's threads (started lazily, once): no thread per push, or per batch.
    assert len(started) <= 3
    assert all(name.startswith("fcm-push") for name in started)
    assert len([thread for thread in threading.enumerate() if thread.name.startswith("fcm-push")]) <= 3
    assert len(fcm_fake.accepted) == 62


def test_proxy_settings_are_read_from_the_environment_when_the_app_is_created(
    fcm_fake, settings, monkeypatch, closed_port
):
    # Read once: a proxy named after the app exists does not change where pushes go...
    push_send(request=offer("warm"))
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{closed_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert push_send(request=offer("device-token-1")).outcome is PushOutcome.SENT

    # ...and one named when the app is created (new settings) is used, from the new app's first request (its access
    # token): here it refuses connections.
    settings.FCM_TIMEOUT_SECONDS = 3.0
    result = push_send(request=offer("device-token-2"))
    assert (result.outcome, result.error_code) == (PushOutcome.RETRYABLE, "AUTH_UNAVAILABLE")
    assert [message.token for message in fcm_fake.messages] == ["warm", "device-token-1"]


def test_pushes_go_straight_to_the_transport_with_the_headers_firebase_admin_sends(fcm_fake, monkeypatch):
    """A push skips requests' Session layer (the cost of a push was mostly there) but not what firebase-admin and
    google-auth put on the request: the same headers, the access token, the JSON body."""
    import requests

    push_send(request=offer("warm"))  # the access token is fetched (through a session: google-auth's own request)
    through_session = []
    original = requests.Session.request

    def counting(session: requests.Session, method: str, url: str, *args: object, **kwargs: object) -> object:
        through_session.append(url)
        return original(session, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", counting)
    results = push_send_many(requests=[offer(f"device-token-{index}", job=str(index)) for index in range(5)])

    assert {result.outcome for result in results} == {PushOutcome.SENT}
    assert through_session == []
    pushed = fcm_fake.messages[1:]
    assert sorted(message.token for message in pushed) == [f"device-token-{index}" for index in range(5)]
    for message in pushed:
        assert message.headers["authorization"] == fcm_fake.messages[0].headers["authorization"]
        assert message.headers["x-goog-api-format-version"] == "2"
        assert message.headers["x-firebase-client"].startswith("fire-admin-python/")
        assert "gl-python/" in message.headers["x-goog-api-client"]
        assert message.headers["content-type"] == "application/json"
