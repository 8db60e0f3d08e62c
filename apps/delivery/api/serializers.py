"""The phone's job and report shapes: the DRF serializers (the documented schema, and the DRF path's validation) and
the plain functions the hot requests use instead of building a serializer each time.

Building a serializer copies its declared fields (`Serializer.fields`: a deepcopy per instance), which cost more than
the rest of its work: about a tenth of the web process's time end to end went to the serializers of the acknowledgement
and report batches (`POST /api/jobs/ack`, `POST /api/jobs/reports`), up to ~1,000 per request. So:

- Output: each shape is represented by one serializer built once (`job_output`, `offered_jobs_output`,
  `report_output`) — `to_representation` keeps no state on the serializer — and every view answers through these, so
  the DRF and lean ways cannot drift.
- Input: a well-formed request (what a phone sends) is checked directly (`ack_batch_jobs`, `report_batch_items`,
  `batch_report_data`), answering the serializer's validated data; anything else is judged by a serializer built then,
  so every refusal is DRF's own by construction. Tests hold the direct checks equal to the serializers on valid,
  borderline and refused input (apps/delivery/tests/test_phone_shapes.py)."""

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import ISO_8601, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.settings import api_settings

from apps.core.converters import DATABASE_ID_MAX
from apps.core.serializer_fields import StrictBooleanField, StrictCharField
from apps.delivery.choices import ReportStatus, SendError
from apps.messaging.models import Job


class OfferedJobOutput(serializers.ModelSerializer):
    class Meta:
        model = Job
        fields = ["id", "status", "offered_at", "accepted_at", "deadline"]
        extra_kwargs = {
            "deadline": {
                "help_text": "Offered: acknowledge before this. Unknown: answer (report sent, delivered, or failed "
                "with not_sent) before this, or the message's outcome stays unknown for good."
            }
        }


class JobOutput(serializers.Serializer):
    """What the phone needs to send the SMS, and nothing about the client."""

    id = serializers.IntegerField()
    status = StrictCharField()
    message_id = serializers.IntegerField()
    to = StrictCharField(source="message.to")
    body = StrictCharField(source="message.text", help_text="The text to send (sealed bodies are opened for you).")
    encoding = StrictCharField(source="message.encoding")
    segments = serializers.IntegerField(source="message.segments")
    deadline = serializers.DateTimeField()
    trace_token = StrictCharField(help_text="Sign delivery reports over this token.")


class ReportOutput(serializers.Serializer):
    job_id = serializers.IntegerField(source="report.job_id")
    status = StrictCharField(source="report.status")
    duplicate = StrictBooleanField()
    applied = StrictBooleanField(source="report.applied")
    flags = serializers.ListField(child=StrictCharField())
    job_status = StrictCharField()
    message_status = StrictCharField()


# The most acknowledgements one request carries (`POST /api/jobs/ack`, or riding on `POST /api/jobs/reports`).
ACK_BATCH_MAX = 500


class AckBatchInput(serializers.Serializer):
    jobs = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX), min_length=1, max_length=ACK_BATCH_MAX
    )


@extend_schema_field(OpenApiTypes.DATETIME)
class SignedTimestampField(StrictCharField):
    """A date-time kept as the text the phone signed (re-serialising it could change the signed bytes)."""


def aware_moment(value: str) -> datetime | None:
    """The moment an ISO 8601 text with a time zone names; None for any other text."""
    try:
        moment = parse_datetime(value)
    except ValueError:  # well formed but no such moment (month 13, 25 o'clock)
        return None
    return moment if moment is not None and moment.tzinfo is not None else None


class ReportInput(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReportStatus.choices)
    error_code = serializers.ChoiceField(choices=SendError.choices, required=False, allow_blank=True, default="")
    occurred_at = SignedTimestampField(max_length=40, help_text="ISO 8601 with a time zone, as signed.")
    parts = serializers.IntegerField(min_value=1, max_value=255, required=False, allow_null=True, default=None)
    signature = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    device = serializers.IntegerField(
        min_value=1,
        max_value=DATABASE_ID_MAX,
        required=False,
        allow_null=True,
        default=None,
        help_text="This phone's device id.",
    )

    def validate_occurred_at(self, value: str) -> str:
        if aware_moment(value) is None:
            raise serializers.ValidationError("Use ISO 8601 with a time zone, e.g. 2026-11-26T09:15:02Z.")
        return value


class BatchReportInput(ReportInput):
    job_id = serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX)


class BatchInput(serializers.Serializer):
    reports = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=500)
    acks = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=DATABASE_ID_MAX),
        max_length=ACK_BATCH_MAX,
        required=False,
        help_text="Offered jobs to acknowledge once the reports are taken, each answered in `acks` as "
        "`POST /api/jobs/ack` answers it: a phone with reports and acknowledgements to send makes one request.",
    )


_ABSENT = object()


class _Representer:
    """`serializer.to_representation(instance)` of a serializer built once, field by field without DRF's generic
    loop (`get_attribute` and its checks per field: about half the acknowledgement's answer): each value read off the
    instance by its field's source and given to the field's own `to_representation`, except where that answer is
    known — None; a plain `str` in a CharField, `int` in an IntegerField, `bool` in a BooleanField (each its own
    representation); an aware datetime in an ISO 8601 DateTimeField, written in the current time zone looked up once
    per instance (DRF looks it up for each). Anything else (a callable attribute, a missing one) goes to the
    serializer itself. A test holds the two equal (`test_phone_shapes`)."""

    def __init__(self, serializer: serializers.Serializer) -> None:
        self.serializer = serializer
        self.fields = [
            (name, tuple(field.source_attrs), field, _kept_type(field), _iso_time(field))
            for name, field in serializer.fields.items()
            if not field.write_only
        ]

    def __call__(self, instance: Any) -> dict:
        zone = None
        output = {}
        for name, attributes, field, kept, time in self.fields:
            value = instance
            for attribute in attributes:
                if value is None:  # a source through nothing: DRF's own judgement (a default, None, or skipped)
                    return self.serializer.to_representation(instance)
                value = getattr(value, attribute, _ABSENT)
                if value is _ABSENT or callable(value):
                    return self.serializer.to_representation(instance)
            if value is None or type(value) is kept:
                output[name] = value
            elif time and type(value) is datetime and value.utcoffset() is not None:
                if zone is None:
                    zone = timezone.get_current_timezone()
                text = value.astimezone(zone).isoformat()
                output[name] = text[:-6] + "Z" if text.endswith("+00:00") else text
            elif type(field) is serializers.ListField and type(value) is list:
                child, child_kept = field.child, _kept_type(field.child)
                output[name] = [
                    item if item is None or type(item) is child_kept else child.to_representation(item)
                    for item in value
                ]
            else:
                output[name] = field.to_representation(value)
        return output


class _Never:
    """No value is of this type: the field has no value that is its own representation."""


def _kept_type(field: serializers.Field) -> type:
    """The type whose values `field` represents as themselves (equal, of the same type), or `_Never`."""
    represent = type(field).to_representation
    if represent is serializers.CharField.to_representation:
        return str  # str(value)
    if represent is serializers.IntegerField.to_representation:
        return int  # int(value)
    if represent is serializers.BooleanField.to_representation:
        return bool  # True in TRUE_VALUES, False in FALSE_VALUES
    if represent is serializers.ChoiceField.to_representation and all(
        type(key) is str and type(choice) is str and choice == key
        for key, choice in field.choice_strings_to_values.items()
    ):
        return str  # choice_strings_to_values.get(value, value): the value itself, or one equal to it
    return _Never


def _iso_time(field: serializers.Field) -> bool:
    """Whether `field` writes an aware datetime as ISO 8601 in the current time zone (no format or zone of its own)."""
    return (
        type(field).to_representation is serializers.DateTimeField.to_representation
        and type(field).enforce_timezone is serializers.DateTimeField.enforce_timezone
        and not hasattr(field, "timezone")
        and str(getattr(field, "format", api_settings.DATETIME_FORMAT)).lower() == ISO_8601
        and settings.USE_TZ
    )


# The serializers the plain functions represent with (and read their limits from), each built once.
_JOB_OUTPUT = _Representer(JobOutput())
_OFFERED_JOB_OUTPUT = _Representer(OfferedJobOutput())
_REPORT_OUTPUT = _Representer(ReportOutput())
_ACK_JOBS = AckBatchInput().fields["jobs"]
_BATCH_REPORTS = BatchInput().fields["reports"]
_BATCH_ACKS = BatchInput().fields["acks"]
_REPORT_FIELDS = BatchReportInput().fields


def job_output(job: Job) -> dict:
    """`JobOutput(job).data`."""
    return _JOB_OUTPUT(job)


def offered_jobs_output(jobs: Iterable[Job]) -> list[dict]:
    """`OfferedJobOutput(jobs, many=True).data`."""
    return [_OFFERED_JOB_OUTPUT(job) for job in jobs]


def report_output(result: Any) -> dict:
    """`ReportOutput(result).data` of a report's result (apps.delivery.reports.ReportResult)."""
    return _REPORT_OUTPUT(result)


def ack_batch_jobs(data: Any) -> list[int]:
    """`AckBatchInput(data=data)`'s validated job ids: a JSON object whose `jobs` is a list of ids in range is taken
    directly; anything else is judged by the serializer, which raises DRF's ValidationError when it refuses."""
    jobs = data.get("jobs") if type(data) is dict else None
    if (
        type(jobs) is list
        and _ACK_JOBS.min_length <= len(jobs) <= _ACK_JOBS.max_length
        and all(type(job) is int and 1 <= job <= DATABASE_ID_MAX for job in jobs)
    ):
        return list(jobs)
    batch = AckBatchInput(data=data)
    batch.is_valid(raise_exception=True)
    return batch.validated_data["jobs"]


def report_batch_items(data: Any) -> list[dict]:
    """`BatchInput(data=data)`'s validated reports (each item a dict, judged on its own by `batch_report_data`): a
    JSON object whose `reports` is a list of objects is taken directly; anything else is judged by the serializer."""
    items = data.get("reports") if type(data) is dict else None
    if (
        type(items) is list
        and _BATCH_REPORTS.min_length <= len(items) <= _BATCH_REPORTS.max_length
        and all(type(item) is dict for item in items)
    ):
        # DictField's copy: keys as text (a JSON object's are), values as they are.
        return [{str(key): value for key, value in item.items()} for item in items]
    batch = BatchInput(data=data)
    batch.is_valid(raise_exception=True)
    return batch.validated_data["reports"]


def report_batch_acks(data: Any) -> list[int] | None:
    """`BatchInput(data=data)`'s validated `acks` (None when the request has none): a list of ids in range is taken
    directly; anything else is judged by the serializer, which raises DRF's ValidationError when it refuses. Checked
    before any report is taken, so a refused list changes nothing."""
    if type(data) is not dict or "acks" not in data:
        return None
    jobs = data["acks"]
    if (
        type(jobs) is list
        and len(jobs) <= _BATCH_ACKS.max_length
        and all(type(job) is int and 1 <= job <= DATABASE_ID_MAX for job in jobs)
    ):
        return list(jobs)
    batch = BatchInput(data=data)
    batch.is_valid(raise_exception=True)
    return batch.validated_data.get("acks")


def batch_report_data(raw: dict) -> dict:
    """`BatchReportInput(data=raw)`'s validated data; refused, DRF's ValidationError of the serializer's errors."""
    plain = _plain_report(raw)
    if plain is not None:
        return plain
    item = BatchReportInput(data=raw)
    if not item.is_valid():
        raise ValidationError(item.errors)
    return item.validated_data


# What DRF's CharField refuses in any text: NUL, and lone surrogates.
_REFUSED_CHARACTERS = re.compile("[\x00\ud800-\udfff]")
_STATUSES = _REPORT_FIELDS["status"].choice_strings_to_values
_ERROR_CODES = _REPORT_FIELDS["error_code"].choice_strings_to_values
_OCCURRED_AT_MAX = _REPORT_FIELDS["occurred_at"].max_length
_SIGNATURE_MAX = _REPORT_FIELDS["signature"].max_length
_PARTS_MAX = _REPORT_FIELDS["parts"].max_value


def _plain_report(raw: Any) -> dict | None:
    """The serializer's validated data for a report as phones send it — plain JSON types of the right kind, in range —
    checked directly; None for anything else, which the serializer judges (keys it does not know, ignored by it, are
    ignored here too). Per report, building the serializer and DRF's field loop cost several times the report's own
    checks."""
    if type(raw) is not dict:
        return None
    status = raw.get("status")
    if type(status) is not str or status not in _STATUSES:
        return None
    error_code = raw.get("error_code", "")
    if type(error_code) is not str or (error_code != "" and error_code not in _ERROR_CODES):
        return None
    occurred_at = _text(raw.get("occurred_at", _ABSENT), _OCCURRED_AT_MAX)
    if not occurred_at or aware_moment(occurred_at) is None:
        return None
    parts = raw.get("parts")
    if parts is not None and not (type(parts) is int and 1 <= parts <= _PARTS_MAX):
        return None
    signature = _text(raw.get("signature", ""), _SIGNATURE_MAX)
    if signature is None:
        return None
    device, job_id = raw.get("device"), raw.get("job_id")
    if device is not None and not (type(device) is int and 1 <= device <= DATABASE_ID_MAX):
        return None
    if not (type(job_id) is int and 1 <= job_id <= DATABASE_ID_MAX):
        return None
    values = {
        "status": _STATUSES[status],
        "error_code": _ERROR_CODES[error_code] if error_code else "",
        "occurred_at": occurred_at,
        "parts": parts,
        "signature": signature,
        "device": device,
        "job_id": job_id,
    }
    return {name: values[name] for name in _REPORT_FIELDS}  # in the serializer's order


def _text(value: Any, max_length: int) -> str | None:
    """A StrictCharField's value (trimmed; blank as ""), or None where the field might refuse it."""
    if type(value) is not str:
        return None
    value = value.strip()
    if len(value) > max_length or _REFUSED_CHARACTERS.search(value):
        return None
    return value
