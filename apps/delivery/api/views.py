"""The phone's jobs API (JWT of the provider): poll offered jobs (and jobs whose outcome it is asked about),
acknowledge one, read it, report on it."""

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.request import RawPostDataException
from django.utils.dateparse import parse_datetime
from django.utils.http import quote_etag
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.accounts.api.fields import PhoneNumberField
from apps.accounts.authentication import SessionJWTAuthentication
from apps.accounts.phone import normalize_phone
from apps.core.api import error_body
from apps.core.converters import DATABASE_ID_MAX
from apps.core.counters import counters_add
from apps.core.errors import DomainError, ValidationFailed
from apps.core.lean import LeanPostView
from apps.core.local_cache import VersionStale
from apps.core.schema import ErrorCase, raises
from apps.core.serializer_fields import StrictBooleanField, StrictCharField
from apps.core.throttling import scope_window
from apps.delivery import inbound, reports
from apps.delivery.api.serializers import (
    AckBatchInput,
    BatchInput,
    JobOutput,
    OfferedJobOutput,
    ReportInput,
    ReportOutput,
    SignedTimestampField,
    ack_batch_jobs,
    batch_report_data,
    job_output,
    offered_jobs_output,
    report_batch_acks,
    report_batch_items,
    report_output,
)
from apps.delivery.canaries import canary_inbound
from apps.delivery.reports import ErrorCodeRequired, OccurredInFuture, ReportSignatureInvalid, ReportSignatureRequired
from apps.delivery.settling import settle_clock, settle_mark, settle_marked
from apps.messaging.choices import JobStatus
from apps.messaging.errors import JobNotFound, LeaseExpired
from apps.messaging.selectors import job_of_provider, jobs_offered_to, jobs_unknown_of
from apps.messaging.services import job_accept, jobs_accept
from apps.providers.services import provider_heard_from, provider_seen_counted, provider_seen_mark

# What the pull lists: new offers to acknowledge, or acknowledged jobs whose lease ended without a report, which the
# phone must answer through the report endpoints.
PULL_STATUSES = (JobStatus.OFFERED, JobStatus.UNKNOWN)


JOB_NOT_FOUND = (JobNotFound, "No job of this id was offered to you.")
JOB = {
    "id": 90211,
    "status": "accepted",
    "message_id": 5012,
    "to": "+85512345678",
    "body": "លេខកូដផ្ទៀងផ្ទាត់ Angkor Coffee របស់អ្នកគឺ 482913។ កុំប្រាប់អ្នកដទៃ។",
    "encoding": "ucs2",
    "segments": 1,
    "deadline": "2026-01-15T09:32:00+07:00",
    "trace_token": "tr_4f1c9a7e2b6d4e0f9a3c",
}
JOB_EXAMPLES = [
    OpenApiExample("Khmer text", value=JOB, response_only=True),
    OpenApiExample(
        "English text",
        value={
            **JOB,
            "id": 90212,
            "message_id": 5013,
            "body": "Your Angkor Coffee order #1042 is ready for pick-up.",
            "encoding": "gsm7",
        },
        response_only=True,
    ),
]
REPORT_ERRORS = (
    JOB_NOT_FOUND,
    ReportSignatureRequired,
    (ReportSignatureInvalid, "`signature` does not verify against your DID key (or you have bound none)."),
    OccurredInFuture,
    (ErrorCodeRequired, "A `failed` report without an `error_code`."),
)


class PhoneView(APIView):
    """A request of a provider's phone. Once authenticated it counts as a heartbeat (`provider_seen`: at most one
    write per phone every PROVIDER_SEEN_REFRESH_SECONDS), so a busy phone needs no heartbeats of its own.

    Before its work the request makes one shared-cache round trip (one script): the session's version check (a
    session this process holds is taken unread, `SessionJWTAuthentication(deferred=True)`), the rate limit's counter
    and the heartbeat mark. A revoked session fails the check and counts nothing: the request is authenticated afresh
    and refused (401) before anything happens; a session whose user changed is reloaded and counted then."""

    permission_classes = [IsAuthenticated]

    def get_authenticators(self) -> list[SessionJWTAuthentication]:
        return [SessionJWTAuthentication(deferred=True)]

    def check_throttles(self, request: Request) -> None:
        """Counted in `initial`, in the same round trip as the session's check and the heartbeat mark."""

    def initial(self, request: Request, *args: object, **kwargs: object) -> None:
        super().initial(request, *args, **kwargs)
        try:
            self._count(request)
        except VersionStale:
            # Authenticated afresh, with the shared version read: a revoked session raises 401 here.
            request.user, request.auth = SessionJWTAuthentication().authenticate(request)
            self._count(request)

    # A report request may leave deliveries to settle: it counts the settle step's mark in the same round trip
    # (apps.delivery.settling.settle_mark), so its signal after commit makes none of its own.
    marks_settle = False

    def _count(self, request: Request) -> None:
        user = request.user
        window = scope_window(request, self)
        mark = provider_seen_mark(user_id=user.pk)
        settle = settle_mark() if self.marks_settle and _may_report_delivered(request) else None
        named = {"seen": mark, "settle": settle, "rate": window.count() if window else None}
        counts = {name: count for name, count in named.items() if count is not None}
        check = getattr(user, "credential_check", None)
        asked = settle_clock()
        counted = counters_add(list(counts.values()), checks=[check] if check is not None else ())
        values = dict(zip(counts, counted, strict=True))
        if mark is not None:
            provider_seen_counted(user_id=user.pk, marks=values["seen"])
        if settle is not None:
            # Before the rate's verdict: a refused request that put the mark still publishes the task it promised.
            settle_marked(asked=asked, count=values["settle"])
        if window is not None:
            # After the heartbeat: a phone refused for its rate is still alive.
            window.refuse_over(values["rate"])


def _may_report_delivered(request: HttpRequest | Request) -> bool:
    """Whether the request's body may hold a `delivered` report, without parsing it: a mark for a body without one
    would publish a settle task for nothing (a `sent` report settles nothing). One that escapes the word is only
    not marked early: it signals after commit, as every report did."""
    try:
        return b"delivered" in request.body
    except RawPostDataException:  # a body already read as a stream: mark, as a delivered report would
        return True


class LeanPhonePostView(PhoneView, LeanPostView):
    """A phone's POST whose ordinary requests skip DRF's request machinery (apps.core.lean): the phone's hottest
    endpoints, the batches of reports and acknowledgements. Its request makes the same round trip before its work
    (`lean_initial`, PhoneView's counting) and gets the same answer as through DRF; a stale session check sends the
    request to the DRF view, which authenticates afresh (401 `session_revoked` for a revoked session)."""

    lean_counts_rate = True  # in `_count`, with the session's check and the heartbeat mark

    def lean_initial(self, request: HttpRequest, principal: Any) -> None:
        self._count(request)


def offered_jobs(user: object) -> list[dict]:
    """The jobs offered to the phone and not yet acknowledged, as its pull lists them: what a report's answer carries
    so that a busy phone never pulls."""
    return offered_jobs_output(jobs_offered_to(user=user))


class ProviderJobsView(PhoneView):
    """The pull fallback: cheap to poll (one indexed query) and answered 304 while nothing changed. `?status=unknown`
    lists the jobs the phone acknowledged whose lease ended without a report: the phone answers each with a report
    (`sent`, `delivered`, or `failed` with `error_code: not_sent`)."""

    @raises(ErrorCase(400, "status_not_supported", "`status` is other than `offered`."))
    @extend_schema(
        parameters=[OpenApiParameter("status", enum=list(PULL_STATUSES), default=JobStatus.OFFERED)],
        responses={200: OfferedJobOutput(many=True), 304: None},
        tags=["jobs"],
        summary="Jobs offered to this phone",
        description="The pull fallback when a push is late: the jobs offered to you and not yet acknowledged. Send "
        "the last `ETag` as `If-None-Match`: the answer is 304 while nothing changed.",
    )
    def get(self, request: Request) -> Response:
        status = request.query_params.get("status", JobStatus.OFFERED)
        if status not in PULL_STATUSES:
            raise ValidationFailed(code="status_not_supported", details={"supported": list(PULL_STATUSES)})
        # A phone that pulls is alive: if an offer to it ended unacknowledged, it gets work again.
        provider_heard_from(user=request.user)
        selector = jobs_offered_to if status == JobStatus.OFFERED else jobs_unknown_of
        jobs = list(selector(user=request.user))
        data = offered_jobs_output(jobs)
        fingerprint = ",".join(f"{job.pk}:{job.deadline.timestamp()}" for job in jobs)
        etag = quote_etag(hashlib.sha256(fingerprint.encode()).hexdigest()[:32])
        if etag in [tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")]:
            return Response(status=304, headers={"ETag": etag})
        return Response(data, headers={"ETag": etag, "Cache-Control": "private, no-cache"})


class JobDetailView(PhoneView):
    @raises(JOB_NOT_FOUND)
    @extend_schema(
        responses={200: JobOutput},
        tags=["jobs"],
        summary="Read a job",
        examples=JOB_EXAMPLES,
        description="What to send (recipient, body, encoding, segments), by when, and the `trace_token` to sign "
        "reports over.",
    )
    def get(self, request: Request, job_id: int) -> Response:
        return Response(job_output(job_of_provider(user=request.user, job_id=job_id)))


class JobAckView(PhoneView):
    rate_limit_scope = "ack"

    @raises(
        JOB_NOT_FOUND, (LeaseExpired, "The offer ended before you acknowledged it; it may have gone to another phone.")
    )
    @extend_schema(
        request=None,
        responses={200: JobOutput},
        tags=["jobs"],
        summary="Accept a job",
        examples=JOB_EXAMPLES,
        description="Acknowledge an offered job before its deadline; the answer is what to send. Then send the SMS "
        "and report the outcome.",
    )
    def post(self, request: Request, job_id: int) -> Response:
        return Response(job_output(job_accept(job_id=job_id, user=request.user)))


class AckResultOutput(serializers.Serializer):
    job_id = serializers.IntegerField()
    ok = StrictBooleanField()
    job = JobOutput(required=False, help_text="The job, as `POST /api/jobs/{id}/ack` returns it (when ok).")
    error = serializers.DictField(required=False, help_text="{code, message, details} (when not ok).")


class AckBatchOutput(serializers.Serializer):
    results = AckResultOutput(many=True)


class JobAckBatchView(LeanPhonePostView):
    """Acknowledge several offered jobs in one request (a phone that received a burst of pushes, or the offers a
    report's answer listed). Each job succeeds or fails on its own, with the same codes as acknowledging it alone."""

    rate_limit_scope = "ack"

    @extend_schema(
        operation_id="jobs_ack_batch",
        request=AckBatchInput,
        responses={200: AckBatchOutput},
        tags=["jobs"],
        summary="Accept several jobs",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def lean_post(self, request: HttpRequest | Request, principal: Any, data: Any) -> tuple[int, dict]:
        return 200, {"results": acknowledged(principal, ack_batch_jobs(data))}


def acknowledged(user: Any, job_ids: list[int]) -> list[dict]:
    """`POST /api/jobs/ack`'s answer rows for `job_ids` (acknowledged in one move): per id, in order, the job or the
    error acknowledging it alone would give. Also what the acknowledgements riding on a report batch are answered."""
    rows = []
    for job_id, result in zip(job_ids, jobs_accept(job_ids=job_ids, user=user), strict=True):
        if isinstance(result, DomainError):
            rows.append(
                {"job_id": job_id, "ok": False, "error": error_body(result.code, result.message, result.details)}
            )
        else:
            rows.append({"job_id": job_id, "ok": True, "job": job_output(result)})
    return rows


OFFERED_HELP = (
    "The jobs offered to this phone and not yet acknowledged, as `GET /api/providers/me/jobs` lists them: a busy "
    "phone acknowledges these instead of pulling."
)


class ReportAnswerOutput(ReportOutput):
    offered = OfferedJobOutput(many=True, help_text=OFFERED_HELP)


class BatchReportRow(ReportOutput):
    """One report of a batch, at its position in the request: the report's answer when ok, else its error."""

    index = serializers.IntegerField()
    ok = StrictBooleanField()
    error = serializers.DictField(required=False, help_text="{code, message, details} (when not ok).")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        for name in ReportOutput._declared_fields:
            self.fields[name].required = False  # absent when not ok


class BatchReportOutput(serializers.Serializer):
    results = BatchReportRow(many=True)
    acks = AckResultOutput(
        many=True,
        required=False,
        help_text="When the request had `acks`: each acknowledgement's result, in the request's order, as "
        "`POST /api/jobs/ack` answers it.",
    )
    offered = OfferedJobOutput(many=True, help_text=OFFERED_HELP)


OFFERED = [
    {
        "id": 90213,
        "status": "offered",
        "offered_at": "2026-01-15T09:27:10+07:00",
        "accepted_at": None,
        "deadline": "2026-01-15T09:32:10+07:00",
    }
]
REPORT_SIGNATURE = "mJ0f1cR4u9yq3lq8mO5bVxq3dE0K2m8bO3T9c6ZQkQ7r7cW0Yw2m4b1u8K5y2sQbH3c9nL0vW6pA1eR7tY4uCg=="
SENT_REPORT = {"status": "sent", "occurred_at": "2026-01-15T02:27:14.120Z", "parts": 1, "signature": REPORT_SIGNATURE}
REPORT_ANSWER = {
    "job_id": 90211,
    "status": "sent",
    "duplicate": False,
    "applied": True,
    "flags": [],
    "job_status": "sent",
    "message_status": "sent",
    "offered": OFFERED,
}
REPORT_EXAMPLES = [
    OpenApiExample("Sent", value=SENT_REPORT, request_only=True),
    OpenApiExample(
        "Delivered alone (implies sent)",
        value={**SENT_REPORT, "status": "delivered", "occurred_at": "2026-01-15T02:27:19.480Z"},
        request_only=True,
        description="A phone that already has the delivery receipt reports `delivered` alone.",
    ),
    OpenApiExample("Sent, with the next offered job", value=REPORT_ANSWER, response_only=True),
    OpenApiExample(
        "Sent without an acknowledgement first",
        value={**REPORT_ANSWER, "flags": ["ack_folded"], "offered": []},
        response_only=True,
        description="The job was offered to this phone and not acknowledged: the report acknowledged it too.",
    ),
    OpenApiExample(
        "Delivered alone",
        value={**REPORT_ANSWER, "status": "delivered", "job_status": "delivered", "message_status": "delivered"},
        response_only=True,
    ),
]
BATCH_REPORT_EXAMPLES = [
    OpenApiExample(
        "Reports of two jobs",
        value={
            "reports": [
                {"job_id": 90211, **SENT_REPORT, "status": "delivered"},
                {"job_id": 90212, **SENT_REPORT, "status": "failed", "error_code": "no_service", "parts": None},
            ]
        },
        request_only=True,
    ),
    OpenApiExample(
        "Results, with the next offered job",
        value={
            "results": [
                {"index": 0, "ok": True, **{k: v for k, v in REPORT_ANSWER.items() if k != "offered"}},
                {
                    "index": 1,
                    "ok": True,
                    "job_id": 90212,
                    "status": "failed",
                    "duplicate": False,
                    "applied": True,
                    "flags": [],
                    "job_status": "failed",
                    "message_status": "queued",
                },
            ],
            "offered": OFFERED,
        },
        response_only=True,
    ),
    OpenApiExample(
        "A report and an acknowledgement in one request",
        value={"reports": [{"job_id": 90211, **SENT_REPORT, "status": "delivered"}], "acks": [90213]},
        request_only=True,
        description="Taken in this order: the reports, then the acknowledgements.",
    ),
    OpenApiExample(
        "Results, with the acknowledged job",
        value={
            "results": [
                {
                    "index": 0,
                    "ok": True,
                    **{k: v for k, v in REPORT_ANSWER.items() if k != "offered"},
                    "status": "delivered",
                    "job_status": "delivered",
                    "message_status": "delivered",
                }
            ],
            "acks": [{"job_id": 90213, "ok": True, "job": {**JOB, "id": 90213, "message_id": 5014}}],
            "offered": [],
        },
        response_only=True,
    ),
]


def _report_input(data: dict, job_id: int) -> reports.ReportInput:
    return reports.ReportInput(
        job_id=job_id,
        status=data["status"],
        occurred_at=parse_datetime(data["occurred_at"]),
        occurred_at_text=data["occurred_at"],
        error_code=data["error_code"],
        parts=data["parts"],
        signature=data["signature"],
        device_id=data["device"],
    )


class JobReportView(PhoneView):
    rate_limit_scope = "reports"
    marks_settle = True

    @raises(*REPORT_ERRORS)
    @extend_schema(
        request=ReportInput,
        responses={200: ReportAnswerOutput},
        tags=["reports"],
        summary="Report a job's outcome",
        examples=REPORT_EXAMPLES,
        description="`sent`, `delivered` or `failed` (with `error_code`), when it happened, signed with your DID key "
        "over the job's `trace_token`. Sending the same report again is answered `duplicate: true`. `delivered` "
        "alone implies sent (a phone that already has the delivery receipt need not report `sent`); a report for a "
        "job offered to you and not yet acknowledged acknowledges it too (flag `ack_folded`: a phone that sent at "
        "once), under the same checks as an acknowledgement. The answer lists the jobs now offered to you "
        "(`offered`), so a busy phone need not pull; the request also counts as a heartbeat.",
    )
    def post(self, request: Request, job_id: int) -> Response:
        serializer = ReportInput(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = reports.report_submit(user=request.user, data=_report_input(serializer.validated_data, job_id))
        return Response({**report_output(result), "offered": offered_jobs(request.user)})


class JobReportBatchView(LeanPhonePostView):
    rate_limit_scope = "reports"
    marks_settle = True

    @extend_schema(
        request=BatchInput,
        responses={200: BatchReportOutput},
        tags=["reports"],
        summary="Report several outcomes",
        examples=BATCH_REPORT_EXAMPLES,
        description="Up to 500 reports, each as for one job plus its `job_id`. Each succeeds or fails on its own: "
        "the answer lists, at each report's `index`, its result or its `error` (the codes of a single report), "
        "and the jobs now offered to you (`offered`, as the pull lists them). Folded reports as for one job: "
        "`delivered` alone implies sent, a report for an offered job acknowledges it. Acknowledgements may ride "
        "along (`acks`, up to 500 job ids): taken after the reports, each answered in `acks` exactly as "
        "`POST /api/jobs/ack` answers it; `offered` then lists only the offers not among them.",
    )
    def post(self, request: Request) -> Response:
        return super().post(request)

    def lean_post(self, request: HttpRequest | Request, principal: Any, data: Any) -> tuple[int, dict]:
        rows: list[dict] = []
        items, positions = [], []
        raw_items = report_batch_items(data)
        ack_ids = report_batch_acks(data)  # judged before any report is taken: a refused list changes nothing
        for index, raw in enumerate(raw_items):
            try:
                item = batch_report_data(raw)
            except ValidationError as error:
                rows.append(
                    {
                        "index": index,
                        "ok": False,
                        "error": error_body("validation_error", "Invalid input.", {"fields": error.get_full_details()}),
                    }
                )
                continue
            items.append(_report_input(item, item["job_id"]))
            positions.append(index)
        for index, result in zip(positions, reports.reports_submit_batch(user=principal, items=items), strict=True):
            if isinstance(result, DomainError):
                rows.append(
                    {"index": index, "ok": False, "error": error_body(result.code, result.message, result.details)}
                )
            else:
                rows.append({"index": index, "ok": True, **report_output(result)})
        rows.sort(key=lambda row: row["index"])
        if ack_ids is None:
            return 200, {"results": rows, "offered": offered_jobs(principal)}
        # After the reports, as a phone would send them one after the other: what they freed is free for these.
        acks = acknowledged(principal, ack_ids) if ack_ids else []
        return 200, {"results": rows, "acks": acks, "offered": offered_jobs(principal)}


class AuditPhone(BasePermission):
    """The network's own receiving phones, with AUDIT_INBOUND_TOKEN (no token configured: nobody)."""

    def has_permission(self, request: Request, view: object) -> bool:
        token = settings.AUDIT_INBOUND_TOKEN
        presented = request.headers.get("Authorization", "")
        return bool(token) and secrets.compare_digest(presented, f"Bearer {token}")


class InboundInput(serializers.Serializer):
    to = PhoneNumberField(help_text="The audit phone's own number.")
    body = StrictCharField(max_length=2000)


class InboundOutput(serializers.Serializer):
    matched = StrictBooleanField()


class AuditInboundView(APIView):
    authentication_classes: list = []
    permission_classes = [AuditPhone]

    @extend_schema(
        request=InboundInput,
        responses={202: InboundOutput},
        tags=["audit"],
        summary="Internal: an audit phone received an SMS",
        description="The network's own receiving phones (with AUDIT_INBOUND_TOKEN) confirm the canaries they "
        "receive; `matched` says whether the text was a canary sent to that number.",
    )
    def post(self, request: Request) -> Response:
        data = InboundInput(data=request.data)
        data.is_valid(raise_exception=True)
        to = normalize_phone(data.validated_data["to"]).e164
        canary = canary_inbound(to=to, body=data.validated_data["body"])
        return Response({"matched": canary is not None}, status=202)


class InboundItemInput(serializers.Serializer):
    sim = serializers.IntegerField(
        min_value=1, max_value=DATABASE_ID_MAX, help_text="The id of your SIM the SMS arrived on."
    )
    sender = StrictCharField(max_length=32, help_text="The number the SMS came from, as the phone shows it.")
    body = StrictCharField(max_length=2000, trim_whitespace=False)
    received_at = SignedTimestampField(max_length=40, help_text="ISO 8601 with a time zone, as signed.")
    signature = StrictCharField(
        max_length=200,
        required=False,
        allow_blank=True,
        default="",
        help_text="Ed25519 over `peerpower-inbound\\n{sim}\\n{sender}\\n{received_at}\\n{sha256 hex of body}`.",
    )

    validate_received_at = ReportInput.validate_occurred_at


class InboundBatchInput(serializers.Serializer):
    messages = InboundItemInput(many=True, min_length=1, max_length=500)


class InboundResultOutput(serializers.Serializer):
    index = serializers.IntegerField()
    outcome = serializers.ChoiceField(
        choices=["stopped", "forwarded", "duplicate", "unmatched", "spoofed"],
        help_text="stopped: the sender was opted out; forwarded: the client was told; duplicate: already taken; "
        "unmatched (answers no message sent from that SIM) and spoofed (signature or SIM wrong): dropped.",
    )
    flags = serializers.ListField(child=StrictCharField())


class InboundBatchOutput(serializers.Serializer):
    results = InboundResultOutput(many=True)


class ProviderInboundView(PhoneView):
    """SMS the phone received on a SIM that sent for PeerPower (replies, STOP requests), forwarded in batches."""

    @extend_schema(
        request=InboundBatchInput,
        responses={200: InboundBatchOutput},
        tags=["reports"],
        summary="Forward received SMS",
        description="Up to 500 SMS received on your SIMs, each signed with your DID key like a report. A stop "
        "request opts its sender out; another reply reaches the client whose message it answers. Each item's "
        "`outcome` says what happened; resending a batch changes nothing twice.",
    )
    def post(self, request: Request) -> Response:
        batch = InboundBatchInput(data=request.data)
        batch.is_valid(raise_exception=True)
        items = [
            inbound.InboundInput(
                sim_id=item["sim"],
                sender=item["sender"],
                body=item["body"],
                received_at=parse_datetime(item["received_at"]),
                received_at_text=item["received_at"],
                signature=item["signature"],
            )
            for item in batch.validated_data["messages"]
        ]
        results = inbound.inbound_receive_batch(user=request.user, items=items)
        rows = [
            {"index": index, "outcome": result.outcome, "flags": list(result.flags)}
            for index, result in enumerate(results)
        ]
        return Response({"results": rows})
