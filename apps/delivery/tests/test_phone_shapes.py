"""The phone's hot requests validate and represent without building a DRF serializer each time
(apps.delivery.api.serializers): every answer must be exactly the serializer's — the same validated data (values,
types, order) for input it takes, the same errors (codes, messages, fields in order) for input it refuses, and the same
representation of jobs and reports."""

import json

import pytest
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from apps.core.converters import DATABASE_ID_MAX
from apps.delivery.api.serializers import (
    AckBatchInput,
    BatchInput,
    BatchReportInput,
    JobOutput,
    OfferedJobOutput,
    ReportOutput,
    _plain_report,
    ack_batch_jobs,
    batch_report_data,
    job_output,
    offered_jobs_output,
    report_batch_items,
    report_output,
)
from apps.delivery.models import DeliveryReport
from apps.delivery.reports import ReportResult
from apps.delivery.tests.test_report_batches import acknowledged, organization, phone, roomy  # noqa: F401 - fixtures
from apps.incentives.tests.conftest import prices  # noqa: F401 - a fixture
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch

AT = "2026-11-26T09:15:02.120Z"
REPORT = {"job_id": 7, "status": "sent", "occurred_at": AT}
# What phones send: each must take the direct way (the reason it exists).
COMMON_REPORTS = [
    REPORT,
    {**REPORT, "status": "delivered", "parts": 1, "signature": "mJ0f1cR4u9yq3lq8mO5b=="},
    {**REPORT, "status": "failed", "error_code": "no_service", "parts": None, "device": 3},
    {**REPORT, "occurred_at": "2026-11-26T16:15:02+07:00", "error_code": "", "signature": ""},
]
REPORTS = [
    *COMMON_REPORTS,
    {**REPORT, "unknown": {"nested": [1]}},  # ignored, as the serializer ignores it
    {},
    # status
    {**REPORT, "status": ""},
    {**REPORT, "status": "SENT"},
    {**REPORT, "status": " sent"},
    {**REPORT, "status": None},
    {**REPORT, "status": 1},
    {**REPORT, "status": ["sent"]},
    {"job_id": 7, "occurred_at": AT},
    # error_code
    {**REPORT, "error_code": "not_sent"},
    {**REPORT, "error_code": "bogus"},
    {**REPORT, "error_code": " no_service"},
    {**REPORT, "error_code": None},
    {**REPORT, "error_code": 3},
    # occurred_at
    {**REPORT, "occurred_at": "  2026-11-26T09:15:02Z  "},  # trimmed, then judged
    {**REPORT, "occurred_at": "2026-11-26T09:15:02Z" + " " * 30},
    {**REPORT, "occurred_at": "2026-11-26T09:15:02"},  # no time zone
    {**REPORT, "occurred_at": "2026-11-26"},
    {**REPORT, "occurred_at": "yesterday"},
    {**REPORT, "occurred_at": "2026-13-01T00:00:00Z"},  # no such month
    {**REPORT, "occurred_at": "2026-11-26T09:15:02.123456789012345678901+07:00"},  # 41 characters
    {**REPORT, "occurred_at": "2026-11-26T09:15:02\x00Z"},
    {**REPORT, "occurred_at": "2026-11-26T09:15:02\ud800Z"},
    {**REPORT, "occurred_at": ""},
    {**REPORT, "occurred_at": "   "},
    {**REPORT, "occurred_at": None},
    {**REPORT, "occurred_at": 1764148502},
    {"job_id": 7, "status": "sent"},
    # parts
    {**REPORT, "parts": 255},
    {**REPORT, "parts": 256},
    {**REPORT, "parts": 0},
    {**REPORT, "parts": -1},
    {**REPORT, "parts": 1.0},
    {**REPORT, "parts": 1.5},
    {**REPORT, "parts": "1"},
    {**REPORT, "parts": True},
    {**REPORT, "parts": 2**70},
    # signature
    {**REPORT, "signature": "  padded  "},
    {**REPORT, "signature": "   "},
    {**REPORT, "signature": "s" * 200},
    {**REPORT, "signature": "s" * 201},
    {**REPORT, "signature": " " + "s" * 200 + " "},
    {**REPORT, "signature": None},
    {**REPORT, "signature": 5},
    {**REPORT, "signature": "a\x00b"},
    {**REPORT, "signature": "a\udfffb"},
    # device
    {**REPORT, "device": DATABASE_ID_MAX},
    {**REPORT, "device": DATABASE_ID_MAX + 1},
    {**REPORT, "device": 0},
    {**REPORT, "device": "5"},
    {**REPORT, "device": True},
    {**REPORT, "device": 5.0},
    # job_id
    {**REPORT, "job_id": 1},
    {**REPORT, "job_id": DATABASE_ID_MAX},
    {**REPORT, "job_id": DATABASE_ID_MAX + 1},
    {**REPORT, "job_id": 0},
    {**REPORT, "job_id": -3},
    {**REPORT, "job_id": "7"},
    {**REPORT, "job_id": 7.0},
    {**REPORT, "job_id": True},
    {**REPORT, "job_id": None},
    {"status": "sent", "occurred_at": AT},
    # several errors at once: named in the serializer's order
    {"job_id": "x", "status": "bogus", "occurred_at": None, "parts": 0, "signature": 5, "device": -1},
]


def in_order(value: object) -> str:
    """A value's JSON with its keys in their order: two answers equal in this are the same bytes to the phone."""
    return json.dumps(value)


def types(data: dict) -> list[type]:
    return [type(value) for value in data.values()]


def refusal(call, data) -> ValidationError:
    with pytest.raises(ValidationError) as refused:
        call(data)
    return refused.value


@pytest.mark.parametrize("item", REPORTS, ids=range(len(REPORTS)))
def test_a_report_is_validated_as_the_serializer_validates_it(item):
    serializer = BatchReportInput(data=item)
    if serializer.is_valid():
        data = batch_report_data(item)
        assert in_order(data) == in_order(serializer.validated_data)
        assert types(data) == types(serializer.validated_data)
    else:
        assert _plain_report(item) is None  # the direct check never takes what the serializer refuses
        error = refusal(batch_report_data, item)
        expected = ValidationError(serializer.errors)
        assert in_order(error.get_full_details()) == in_order(expected.get_full_details())


def test_the_reports_phones_send_take_the_direct_way():
    for item in COMMON_REPORTS:
        assert _plain_report(item) is not None, item
    assert _plain_report({**REPORT, "parts": "1"}) is None  # valid, but left to the serializer


BATCHES = [
    {"reports": [REPORT]},
    {"reports": REPORTS},
    {"reports": [{}]},
    {"reports": [REPORT] * 500},
    {"reports": [REPORT] * 501},
    {"reports": []},
    {"reports": [REPORT, "not an object"]},
    {"reports": [REPORT, None]},
    {"reports": [REPORT, [REPORT]]},
    {"reports": REPORT},
    {"reports": "x"},
    {"reports": None},
    {"reports": [REPORT], "other": 1},
    {},
    [REPORT],
    "reports",
    None,
]


ACKS = [
    {"jobs": [1]},
    {"jobs": [1, 1, DATABASE_ID_MAX]},
    {"jobs": list(range(1, 501))},
    {"jobs": list(range(1, 502))},
    {"jobs": []},
    {"jobs": [0]},
    {"jobs": [-1]},
    {"jobs": [DATABASE_ID_MAX + 1]},
    {"jobs": ["1"]},
    {"jobs": [1.0]},
    {"jobs": [1.5]},
    {"jobs": [True]},
    {"jobs": [None]},
    {"jobs": [[1]]},
    {"jobs": [1, "x", 0]},
    {"jobs": 1},
    {"jobs": "1"},
    {"jobs": {"1": 1}},
    {"jobs": None},
    {"jobs": [1], "other": 2},
    {},
    [1],
    None,
]


@pytest.mark.parametrize(
    ("serializer_class", "read", "name", "data"),
    [
        *((BatchInput, report_batch_items, "reports", data) for data in BATCHES),
        *((AckBatchInput, ack_batch_jobs, "jobs", data) for data in ACKS),
    ],
)
def test_a_batch_is_read_as_its_serializer_reads_it(serializer_class, read, name, data):
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        taken = read(data)
        assert in_order(taken) == in_order(serializer.validated_data[name])
        assert list(map(type, taken)) == list(map(type, serializer.validated_data[name]))
    else:
        error = refusal(read, data)
        assert in_order(error.get_full_details()) == in_order(ValidationError(serializer.errors).get_full_details())


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["UTC", "Asia/Phnom_Penh"])
def test_jobs_and_reports_are_represented_as_the_serializers_represent_them(
    organization,  # noqa: F811 - the imported fixture
    provider,
    phone,  # noqa: F811 - the imported fixture
    roomy,  # noqa: F811 - the imported fixture
    zone,
):
    [accepted] = acknowledged(organization, phone, 1)
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 999", body="Hi"))
    assert dispatch(message) == "assigned"
    report = phone.post(f"/api/jobs/{accepted.pk}/report", {"status": "sent", "occurred_at": AT}, format="json")
    assert report.status_code == 200, report.content
    with timezone.override(zone):
        jobs = Job.objects.select_related("message").order_by("pk")
        assert jobs.count() == 2 and jobs.filter(accepted_at=None).count() == 1  # null and set times alike
        for job in jobs:
            assert in_order(job_output(job)) == in_order(JobOutput(job).data)
        assert in_order(offered_jobs_output(jobs)) == in_order(OfferedJobOutput(jobs, many=True).data)
        assert offered_jobs_output(Job.objects.none()) == []
        row = DeliveryReport.objects.get(job=accepted)
        for result in (
            ReportResult(report=row, duplicate=False, job_status="sent", message_status="sent"),
            ReportResult(report=row, duplicate=True, job_status="sent", message_status="queued", flags=["late"]),
        ):
            assert in_order(report_output(result)) == in_order(ReportOutput(result).data)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Phnom_Penh"])
def test_values_that_are_not_their_own_representation_are_represented_as_the_serializers_represent_them(zone):
    """Choices members, a None among the flags, a number as text, naive and aware times, a job without its message
    loaded through nothing: each as DRF's serializer answers it (or refuses it)."""
    from datetime import UTC, datetime, timedelta
    from datetime import timezone as fixed

    from apps.delivery.choices import ReportFlag, ReportStatus
    from apps.messaging.choices import JobStatus, MessageStatus
    from apps.messaging.models import Message

    report = DeliveryReport(job_id=7, status=ReportStatus.DELIVERED, applied=True, flags=[])
    with timezone.override(zone):
        for result in (
            ReportResult(
                report=report,
                duplicate=False,
                job_status=JobStatus.DELIVERED,
                message_status=MessageStatus.DELIVERED,
                flags=[ReportFlag.LATE, None, "ack_folded"],
            ),
            ReportResult(report=report, duplicate=True, job_status="7", message_status=None, flags=[]),
        ):
            assert in_order(report_output(result)) == in_order(ReportOutput(result).data)
        for when in (
            datetime(2026, 1, 15, 2, 27, tzinfo=UTC),
            datetime(2026, 1, 15, 2, 27, tzinfo=fixed(timedelta(hours=-3))),
            datetime(2026, 1, 15, 2, 27),  # naive: made aware in the current zone, as DRF does
        ):
            job = Job(id=5, status=JobStatus.OFFERED, offered_at=when, deadline=when, accepted_at=None)
            assert in_order(offered_jobs_output([job])) == in_order(OfferedJobOutput([job], many=True).data)
            job.message = Message(id=9, to="+85512345678", body="Hi", encoding="gsm7", segments=1)
            job.trace_token = "tr_1"
            assert in_order(job_output(job)) == in_order(JobOutput(job).data)
