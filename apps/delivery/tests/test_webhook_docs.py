"""docs/webhooks.md is right about the code: its Python and JavaScript verification snippets, run as a client runs
them, accept real requests PeerPower sent (one secret, and both during a rotation) and refuse a wrong secret, a
changed body and a replayed (old) signature; its headers, event types and user agent are the code's."""

import base64
import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable

import pytest

from apps.delivery.webhooks.choices import WebhookEventType
from apps.delivery.webhooks.models import WebhookDelivery
from apps.delivery.webhooks.services import webhook_delivery_send, webhook_endpoint_rotate_secret
from apps.delivery.webhooks.signing import EVENT_ID_HEADER, EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from apps.delivery.webhooks.transport import USER_AGENT
from apps.messaging.choices import MessageStatus
from apps.messaging.state import message_transition

pytestmark = pytest.mark.django_db

Verify = Callable[[bytes, str, str], bool]


@pytest.fixture
def guide(settings) -> str:
    return (settings.BASE_DIR / "docs" / "webhooks.md").read_text()


def snippet(guide: str, language: str) -> str:
    [code] = re.findall(rf"^```{language}\n(.*?)^```", guide, re.MULTILINE | re.DOTALL)
    return code


def python_verify(guide: str) -> Verify:
    namespace: dict = {}
    exec(snippet(guide, "python"), namespace)  # noqa: S102 - the guide's own code, run as a client would
    return namespace["peerpower_signature_valid"]


def node_verify(guide: str, tmp_path) -> Verify:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    (tmp_path / "verify.js").write_text(snippet(guide, "js"))
    driver = (
        "const { peerpowerSignatureValid } = require('./verify.js');"
        "const [body, header, secret] = JSON.parse(process.argv[1]);"
        "process.stdout.write(String(peerpowerSignatureValid(Buffer.from(body, 'base64'), header, secret)));"
    )

    def verify(body: bytes, header: str, secret: str) -> bool:
        argument = json.dumps([base64.b64encode(body).decode(), header, secret])
        result = subprocess.run(
            [node, "-e", driver, argument], cwd=tmp_path, capture_output=True, text=True, timeout=30, check=True
        )
        return {"true": True, "false": False}[result.stdout]

    return verify


@pytest.fixture(params=["python", "js"])
def verify(request, guide, tmp_path) -> Verify:
    return python_verify(guide) if request.param == "python" else node_verify(guide, tmp_path)


def delivered_request(receiver, message_for, endpoint):
    message = message_for()
    assert message_transition(message=message, to=MessageStatus.FAILED, reason="max_attempts")
    [delivery] = WebhookDelivery.objects.filter(event__message=message)
    assert webhook_delivery_send(delivery_id=delivery.pk) == "succeeded"
    return receiver.requests[-1]


def test_the_snippet_accepts_a_real_request_and_refuses_forgeries(verify, endpoint, receiver, message_for):
    request = delivered_request(receiver, message_for, endpoint)
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert verify(request.body, header, endpoint.secret)
    assert not verify(request.body, header, "whsec_not_the_secret")
    assert not verify(request.body.replace(b'"failed"', b'"delivered"'), header, endpoint.secret)
    assert not verify(request.body, "", endpoint.secret)


def test_the_snippet_refuses_a_replay_older_than_five_minutes(verify, endpoint):
    body = b'{"id":"evt_1","type":"message.delivered"}'
    for age, accepted in [(0, True), (290, True), (310, False), (3600, False)]:
        header = signature_header(secrets=[endpoint.secret], timestamp=int(time.time()) - age, body=body)
        assert verify(body, header, endpoint.secret) is accepted, age


def test_the_snippet_accepts_either_secret_during_a_rotation(verify, endpoint, receiver, message_for):
    old_secret = endpoint.secret
    endpoint = webhook_endpoint_rotate_secret(endpoint=endpoint, actor=None)
    request = delivered_request(receiver, message_for, endpoint)
    header = request.headers[SIGNATURE_HEADER.lower()]
    assert header.count("v1=") == 2
    assert verify(request.body, header, endpoint.secret)
    assert verify(request.body, header, old_secret)


def test_the_guide_names_the_codes_headers_and_events(guide):
    for header in (SIGNATURE_HEADER, EVENT_ID_HEADER, EVENT_TYPE_HEADER):
        assert f"`{header}`" in guide
    assert f"`{USER_AGENT}`" in guide
    listed = set(
        re.findall(r"^\| `((?:message|payment|balance|inbound|client\.application)\.[a-z]+)` \|", guide, re.MULTILINE)
    )
    assert listed == set(WebhookEventType.values)
