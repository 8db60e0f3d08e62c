"""docs/provider-protocol.md is the protocol the code speaks: its HTTP examples (```http title="step-…"```), in the
document's order, are performed against the API as an app would send them — variables substituted, the did:key
challenge and every report signed with a freshly generated Ed25519 key exactly as the document says — and each
answer must have the documented status, headers and shape (the same keys, values of the same JSON types, lists of the
same length). The pushes it shows (```json title="push-…"```) must be what the FCM fake receives when the server
pushes a job; each push's `sealed` is opened as the document says, with the phone's own HPKE key, and what it holds
(```json title="opened-…"```) has the documented shape — the phone signs its reports with the trace token it found
there, so a job it reports without acknowledging or reading is one it learned from its push alone.

`{{name}}` in an example is a value the app keeps from an earlier answer (or the push) and sends later: in an answer
it captures the value (or, once known, must equal it); in a request it is replaced. Between steps the test plays
the rest of the world where the document says it happens: a client's message being dispatched to the phone, staff
approving the provider, a lease ending while the phone is offline."""

import base64
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives import hpke, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from django.conf import settings as django_settings
from django.utils import timezone
from multiformats import multibase, multicodec
from rest_framework.test import APIClient

from apps.accounts.services import client_create
from apps.accounts.tests.factories import UserFactory
from apps.delivery.services import jobs_push, providers_wake_up
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, jobs_expire_overdue, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.models import Provider
from apps.providers.services import provider_approve

pytestmark = pytest.mark.django_db

BLOCK = re.compile(r'^```(http|json) title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)
VARIABLE = re.compile(r"\{\{(\w+)\}\}")
UNQUOTED_VARIABLE = re.compile(r'(?<!")\{\{(\w+)\}\}(?!")')


@dataclass
class Block:
    kind: str
    title: str
    text: str


def document() -> str:
    return (django_settings.BASE_DIR / "docs" / "provider-protocol.md").read_text()


def blocks() -> list[Block]:
    return [Block(kind, title, body) for kind, title, body in BLOCK.findall(document())]


def signing_lines() -> list[str]:
    """The document's template of a report's signed text: one line per field, `{job id}`, `{status}`… by name."""
    [template] = re.findall(r"^```\n(peerpower-report\n.*?)^```", document(), re.MULTILINE | re.DOTALL)
    return template.strip().splitlines()


def report_signing_text(*, job_id: int, status: str, occurred_at: str, trace_token: str) -> str:
    """A report's signed text, built from the document's template (each `{field …}` by its first word)."""
    fields = {"job": str(job_id), "status": status, "occurred_at": occurred_at, "trace_token": trace_token}
    lines = [fields[line[1:-1].split()[0].rstrip(",")] if line.startswith("{") else line for line in signing_lines()]
    return "\n".join(lines)


# The seal the document describes: HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305, the
# info `peerpower job v1 {job id}` (checked against the document's own words below).
SEAL_SUITE = hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305)
SEAL_INFO = "peerpower job v1 "


@dataclass
class Phone:
    """What the app keeps: its variables, its key pairs (signing, sealing) and the trace token of each job it
    learned."""

    key: Ed25519PrivateKey = field(default_factory=Ed25519PrivateKey.generate)
    seal: X25519PrivateKey = field(default_factory=X25519PrivateKey.generate)
    values: dict[str, Any] = field(default_factory=dict)
    opened: list[dict] = field(default_factory=list)  # what the last push's `sealed` held, per push

    def __post_init__(self) -> None:
        raw = self.seal.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.values["seal_key"] = base64.b64encode(raw).decode()

    def open_pushes(self, pushes: list[dict]) -> None:
        """Open each job push's `sealed` (standard base64 of enc || ciphertext) and keep the job's trace token."""
        self.opened = []
        for push in pushes:
            data = push["message"]["data"]
            if data.get("kind") != "job":
                continue
            info = f"{SEAL_INFO}{data['job']}".encode()
            job = json.loads(SEAL_SUITE.decrypt(base64.b64decode(data["sealed"], validate=True), self.seal, info=info))
            assert job["id"] == int(data["job"])
            self.values[f"trace_token_{job['id']}"] = job["trace_token"]
            self.opened.append(job)

    @property
    def did(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return "did:key:" + multibase.encode(multicodec.wrap("ed25519-pub", raw), "base58btc")

    def sign(self, text: str) -> str:
        """Ed25519 over the UTF-8 bytes, base64 (standard alphabet, padded): as the document says."""
        return base64.b64encode(self.key.sign(text.encode())).decode()


# --- Parsing the examples ---------------------------------------------------------------------------------------------


def split_message(text: str) -> tuple[str, dict[str, str], str]:
    """An HTTP message: its first line, headers and body."""
    head, _, body = text.partition("\n\n")
    first, *header_lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in header_lines)
    return first, headers, body.strip()


def substitute(text: str, phone: Phone) -> str:
    def value(match: re.Match) -> str:
        name = match[1]
        if name == "report_signature":
            return match[0]  # signed once the report's other fields are in (sign_reports)
        assert name in phone.values, f"{{{{{name}}}}} is used before any answer gave it"
        return str(phone.values[name])

    return VARIABLE.sub(value, text)


def expected_json(text: str) -> Any:
    """A documented body: `{{name}}` where a number goes is read as the string "{{name}}" (a capture)."""
    return json.loads(UNQUOTED_VARIABLE.sub(r'"{{\1}}"', text))


def json_type(value: Any) -> str:
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "array", dict: "object"}.get(
        type(value), "null"
    )


def conforms(expected: Any, actual: Any, phone: Phone, where: str) -> None:
    """The actual answer has the documented shape; captures `{{name}}` values into the phone's variables."""
    if isinstance(expected, str) and (capture := re.fullmatch(r"\{\{(\w+)\}\}", expected)):
        name = capture[1]
        if name in phone.values:
            assert str(actual) == str(phone.values[name]), f"{where}: {actual!r} is not {name} {phone.values[name]!r}"
        else:
            phone.values[name] = actual
        return
    assert json_type(actual) == json_type(expected), f"{where}: documented {expected!r}, answered {actual!r}"
    if isinstance(expected, dict):
        assert sorted(actual) == sorted(expected), f"{where}: documented keys {sorted(expected)}, got {sorted(actual)}"
        for key in expected:
            conforms(expected[key], actual[key], phone, f"{where}.{key}")
    elif isinstance(expected, list):
        assert len(actual) == len(expected), f"{where}: documented {len(expected)} items, got {len(actual)}"
        for index, (documented, answered) in enumerate(zip(expected, actual, strict=True)):
            conforms(documented, answered, phone, f"{where}[{index}]")


# --- What the app computes --------------------------------------------------------------------------------------------


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def sign_reports(body: Any, phone: Phone, path: str) -> Any:
    """Fill `"signature": "{{report_signature}}"` of each report as the document says: Ed25519 over
    `peerpower-report\\n{job id}\\n{status}\\n{occurred_at as sent}\\n{trace token}`."""
    reports = body.get("reports") if isinstance(body, dict) and "reports" in body else [body]
    for report in reports:
        if isinstance(report, dict) and report.get("signature") == "{{report_signature}}":
            job_id = report.get("job_id") or int(re.search(r"/api/jobs/(\d+)/report", path)[1])
            trace_token = phone.values[f"trace_token_{job_id}"]
            text = report_signing_text(
                job_id=job_id, status=report["status"], occurred_at=report["occurred_at"], trace_token=trace_token
            )
            report["signature"] = phone.sign(text)
    return body


def remember_trace_tokens(answer: Any, phone: Phone) -> None:
    """The app keeps each acknowledged job's trace token (by job id) to sign its reports."""
    jobs = [answer] if isinstance(answer, dict) and "trace_token" in answer else []
    if isinstance(answer, dict):
        rows = [*answer.get("results", []), *answer.get("acks", [])]  # an ack batch's, or those riding on reports
        jobs += [row["job"] for row in rows if isinstance(row, dict) and "job" in row]
    for job in jobs:
        phone.values[f"trace_token_{job['id']}"] = job["trace_token"]


# --- The rest of the world ------------------------------------------------------------------------------------------


def last_code(otp_outbox: list) -> str:
    return re.search(r"\b(\d{6})\b", otp_outbox[-1].text)[1]


def client_sends(count: int) -> list[int]:
    """A client's messages to Cellcard numbers, dispatched (the phone's provider is the only one): their jobs."""
    organization = client_create(user=UserFactory(), name="Angkor Coffee")
    job_ids = []
    for index in range(count):
        message = message_submit(
            organization=organization,
            api_key=None,
            data=MessageInput(to=f"012 345 68{index}", body="លេខកូដរបស់អ្នកគឺ 482913"),
        )
        assert dispatch(message) == "assigned"
        job_ids.append(Job.objects.get(message=message).pk)
    return job_ids


def push_jobs(fcm_fake: Any, count: int, phone: Phone) -> list[dict]:
    """The server pushes new jobs to the phone; what the FCM fake received, one FCM v1 body per job, each opened by
    the phone."""
    fcm_fake.reset()
    job_ids = client_sends(count)
    assert set(jobs_push(job_ids=job_ids).values()) == {"sent"}
    pushes = [{"message": received.message} for received in fcm_fake.accepted]
    phone.open_pushes(pushes)
    return pushes


def lease_ends(phone: Phone) -> None:
    """The phone went offline holding an acknowledged job; its lease ended without a report."""
    Job.objects.filter(pk=int(phone.values["job_d"])).update(deadline=timezone.now() - timedelta(seconds=1))
    assert jobs_expire_overdue() == 1


@pytest.fixture
def world(fcm_fake, otp_outbox, settings) -> dict[str, Callable[[Phone], Any]]:
    """What happens before a step (by the step's title), outside the phone."""
    settings.REPORTS_ALLOW_UNSIGNED = False  # every report must be signed as documented
    settings.REPORT_MIN_DELIVERY_SECONDS = 0  # the example delivers within a second of the offer
    settings.PROVIDER_MAX_JOBS_IN_FLIGHT = 5

    def code_for_login(phone: Phone) -> None:
        phone.values["otp_code"] = last_code(otp_outbox)

    def code_for_sim(phone: Phone) -> None:
        phone.values["sim_code"] = last_code(otp_outbox)

    def sign_challenge(phone: Phone) -> None:
        phone.values["did"] = phone.did
        phone.values["challenge_signature"] = phone.sign(phone.values["challenge_message"])

    def approve(phone: Phone) -> None:
        provider = Provider.objects.get(pk=phone.values["provider_id"])
        provider_approve(provider=provider, actor=UserFactory(is_staff=True))

    def stamp(phone: Phone) -> None:
        phone.values["now"] = now_text()

    return {
        "login-verify": code_for_login,
        "did-bind": sign_challenge,
        "sim-verify": code_for_sim,
        "go-online": approve,
        "push-job": lambda phone: push_jobs(fcm_fake, 1, phone),
        "push-jobs": lambda phone: push_jobs(fcm_fake, 2, phone),
        "push-job-d": lambda phone: push_jobs(fcm_fake, 1, phone),
        "push-job-e": lambda phone: push_jobs(fcm_fake, 1, phone),
        "push-job-f": lambda phone: push_jobs(fcm_fake, 1, phone),
        "push-wake": lambda phone: wake_up(fcm_fake, phone),
        "opened-a": lambda phone: phone.opened,
        "opened-e": lambda phone: phone.opened,
        "heartbeat-after-offline": lambda phone: lease_ends(phone),
        "*": stamp,
    }


def wake_up(fcm_fake: Any, phone: Phone) -> list[dict]:
    fcm_fake.reset()
    providers_wake_up([int(phone.values["provider_id"])])
    return [{"message": received.message} for received in fcm_fake.accepted]


# --- The test -------------------------------------------------------------------------------------------------------


def perform(block: Block, phone: Phone, api: APIClient) -> Any:
    first, headers, body = split_message(substitute(block.text, phone))
    method, path = first.split(" ", 1)
    assert path.startswith("/api/"), block.title
    data = sign_reports(json.loads(body), phone, path) if body else None
    extra = {
        "HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items() if name != "Content-Type"
    }
    return api.generic(method, path, json.dumps(data) if data is not None else "", "application/json", **extra)


def check_answer(block: Block, response: Any, phone: Phone) -> None:
    first, headers, body = split_message(block.text)
    status = int(first.split()[1])
    answered = response.json() if response.content else None
    assert response.status_code == status, f"{block.title}: {response.status_code} {answered}"
    for name, value in headers.items():
        assert response.has_header(name), f"{block.title}: no {name} header"
        if VARIABLE.fullmatch(value):
            conforms(value, response[name], phone, f"{block.title} {name}")
        else:
            assert response[name].startswith(value), f"{block.title} {name}: {response[name]}"
    if body:
        conforms(expected_json(body), answered, phone, block.title)
        remember_trace_tokens(answered, phone)
    else:
        assert not response.content, f"{block.title}: documented no body, got {response.content[:200]!r}"


def test_the_documented_protocol_runs_as_documented(world, django_capture_on_commit_callbacks):
    examples = blocks()
    assert len(examples) >= 20, "the document lost its examples"
    phone, api = Phone(), APIClient()
    performed: list[str] = []
    pending = None
    for block in examples:
        world["*"](phone)
        if block.kind == "json":  # a push the phone receives
            pushes, expected = world[block.title](phone), expected_json(block.text)
            conforms(expected if isinstance(expected, list) else [expected], pushes, phone, block.title)
            performed.append(block.title)
            continue
        if block.title.endswith(" answer"):
            assert pending is not None and block.title == f"{pending[0]} answer", f"{block.title} answers nothing"
            check_answer(block, pending[1], phone)
            pending = None
            continue
        assert pending is None, f"{pending and pending[0]} has no documented answer"
        if block.title in world:
            world[block.title](phone)
        with django_capture_on_commit_callbacks(execute=True):  # what the server does once a request commits
            pending = (block.title, perform(block, phone, api))
        performed.append(block.title)
    assert pending is None, f"{pending and pending[0]} has no documented answer"
    # The whole life of a phone is covered: every phase the document describes was driven through the API.
    assert {"login-verify", "did-bind", "register", "sim-verify", "heartbeat", "ack", "report-sent"} <= set(performed)
    assert "report-delivered-alone" in performed  # the folded protocol: no acknowledgement, no `sent` report
    # ... nor a read: the job came sealed in its push, and its report was signed with what the push held.
    assert performed.index("opened-e") < performed.index("report-delivered-alone") < performed.index("read-job-e")
    assert "reports-and-acks" in performed  # acknowledgements riding on a report batch


def test_the_worked_signing_example_follows_the_template():
    example = report_signing_text(
        job_id=90211, status="delivered", occurred_at="2026-12-05T03:15:07.120Z", trace_token="tr_4f1c9a7e2b6d4e0f9a3c"
    )
    escaped = example.replace("\n", "\\n")  # the document writes the line feeds as \n
    assert f"`{escaped}`" in document()


def test_the_document_states_the_seal_the_phone_opens_with():
    text = " ".join(document().split())
    assert f"is the text `{SEAL_INFO}` followed by the job id as digits" in text
    assert "DHKEM_X25519_HKDF_SHA256_HKDF_SHA256_CHACHA20_POLY1305_RAW" in text
