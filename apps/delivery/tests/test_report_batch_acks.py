"""Acknowledgements riding on a report batch (`POST /api/jobs/reports` with `acks`): a phone with reports and
acknowledgements to send makes one request. The acknowledgements are taken after the reports and answered exactly
as `POST /api/jobs/ack` answers them; a request without `acks` is answered as before."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.delivery.tests import test_report_batches as batches
from apps.delivery.tests.test_report_batches import acknowledged, row
from apps.messaging.choices import JobStatus
from apps.messaging.models import Job
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch

pytestmark = pytest.mark.django_db

# The report batches' fixtures: a funded client, the provider's phone, room for many jobs at once.
prices, organization, phone, roomy = batches.prices, batches.organization, batches.phone, batches.roomy


def offered(organization, count: int, *, first: int) -> list[Job]:
    """`count` jobs offered to the provider (the only one) and not acknowledged."""
    jobs = []
    for index in range(first, first + count):
        data = MessageInput(to=f"012 345 {index:03d}", body=f"Hi {index}")
        message = message_submit(organization=organization, api_key=None, data=data)
        assert dispatch(message) == "assigned"
        jobs.append(Job.objects.get(message=message))
    return jobs


def post_reports(phone, body: dict) -> dict:
    response = phone.post("/api/jobs/reports", body, format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def statuses(jobs: list[Job]) -> list[str]:
    by_id = dict(Job.objects.filter(pk__in=[job.pk for job in jobs]).values_list("pk", "status"))
    return [by_id[job.pk] for job in jobs]


def test_acks_ride_on_a_report_batch_and_are_answered_as_the_ack_batch_answers(organization, provider, phone, roomy):
    [reported] = acknowledged(organization, phone, 1)
    first, second, ended = offered(organization, 3, first=10)
    Job.objects.filter(pk=ended.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    ids = [first.pk, 999_999, second.pk, ended.pk, first.pk]

    answer = post_reports(phone, {"reports": [row(reported, "delivered")], "acks": ids})

    assert [(r["ok"], r["job_status"]) for r in answer["results"]] == [(True, "delivered")]
    rows = answer["acks"]
    assert [(r["job_id"], r["ok"]) for r in rows] == [
        (first.pk, True),
        (999_999, False),
        (second.pk, True),
        (ended.pk, False),
        (first.pk, True),
    ]
    assert [r["error"]["code"] for r in rows if not r["ok"]] == ["job_not_found", "lease_expired"]
    assert (rows[0]["job"]["body"], rows[2]["job"]["body"]) == ("Hi 10", "Hi 11")
    assert statuses([reported, first, second, ended]) == ["delivered", "accepted", "accepted", "offered"]
    # What is acknowledged is no longer offered; the ended offer is not listed either.
    assert answer["offered"] == []
    # The same ids acknowledged on their own are answered row for row alike (an acknowledgement repeated by the
    # phone that holds the job answers the job again).
    alone = phone.post("/api/jobs/ack", {"jobs": ids}, format="json")
    assert alone.json()["results"] == rows


def test_the_reports_are_taken_before_the_acks(organization, provider, phone, roomy):
    """A report for an offered job acknowledges it (`ack_folded`): had the acknowledgement in the same request gone
    first, the report would not carry the flag."""
    [job] = offered(organization, 1, first=20)

    answer = post_reports(phone, {"reports": [row(job, "sent")], "acks": [job.pk]})

    assert "ack_folded" in answer["results"][0]["flags"]
    [ack] = answer["acks"]
    assert (ack["ok"], ack["job"]["status"]) == (True, "sent")
    assert statuses([job]) == [JobStatus.SENT]


def normalized(answer: dict) -> dict:
    """An answer without what differs between two rounds of the same scenario (ids, numbers, times, tokens)."""
    varying = {"id", "job_id", "message_id", "to", "body", "deadline", "trace_token", "offered_at", "accepted_at"}

    def clean(value):
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items() if key not in varying}
        if isinstance(value, list):
            return [clean(item) for item in value]
        return value

    return clean(answer)


def test_one_request_answers_what_the_reports_then_the_ack_batch_answered(organization, provider, phone, roomy):
    # Round one, as a phone does without `acks`: the reports, whose answer lists the offer; then its acknowledgement.
    old_reported = acknowledged(organization, phone, 2, first=30)
    [old_offer] = offered(organization, 1, first=40)
    old = post_reports(phone, {"reports": [row(old_reported[0], "delivered"), row(old_reported[1], "sent")]})
    assert list(old) == ["results", "offered"]  # as before: no `acks` key
    assert [job["id"] for job in old["offered"]] == [old_offer.pk]
    assert old["offered"] == phone.get("/api/providers/me/jobs").json()  # listed as the pull lists it
    old_acks = phone.post("/api/jobs/ack", {"jobs": [old_offer.pk]}, format="json").json()["results"]
    # Round two, the same in one request.
    new_reported = acknowledged(organization, phone, 2, first=50)
    [new_offer] = offered(organization, 1, first=60)
    new = post_reports(
        phone,
        {
            "reports": [row(new_reported[0], "delivered"), row(new_reported[1], "sent")],
            "acks": [new_offer.pk],
        },
    )
    assert list(new) == ["results", "acks", "offered"]
    assert normalized(new["results"]) == normalized(old["results"])
    assert normalized(new["acks"]) == normalized(old_acks)
    assert new["offered"] == []
    assert statuses([*old_reported, old_offer]) == statuses([*new_reported, new_offer])


def test_an_empty_acks_list_acknowledges_nothing(organization, provider, phone, roomy):
    [reported] = acknowledged(organization, phone, 1, first=70)
    [waiting] = offered(organization, 1, first=71)
    answer = post_reports(phone, {"reports": [row(reported, "delivered")], "acks": []})
    assert answer["acks"] == []
    assert [job["id"] for job in answer["offered"]] == [waiting.pk]


@pytest.mark.parametrize(
    "acks",
    [None, 7, "7", {"jobs": [1]}, ["x"], [0], [1.5], [True], [2**63], list(range(1, 502))],
    ids=["null", "number", "text", "object", "word", "zero", "fraction", "boolean", "too-large", "too-many"],
)
def test_bad_acks_are_refused_before_anything_is_taken(organization, provider, phone, roomy, acks):
    [reported] = acknowledged(organization, phone, 1, first=80)
    [waiting] = offered(organization, 1, first=81)
    response = phone.post("/api/jobs/reports", {"reports": [row(reported, "delivered")], "acks": acks}, format="json")
    body = response.json()
    assert (response.status_code, body["code"]) == (400, "validation_error"), body
    assert "acks" in body["details"]["fields"]
    assert statuses([reported, waiting]) == [JobStatus.ACCEPTED, JobStatus.OFFERED]
