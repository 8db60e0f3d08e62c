"""The phone's hot SELECTs built once per process (apps.core.compiled): the same rows and instances as the ORM's
queryset, the SQL not built again on a warm report or acknowledgement, and the arguments checked."""

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.db.models.sql.compiler import SQLCompiler, SQLInsertCompiler, SQLUpdateCompiler
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.compiled import CompiledSelect, ids_in
from apps.delivery.models import DeliveryReport
from apps.delivery.reports import _LOCKED_JOBS
from apps.delivery.tests import test_report_batches as batches
from apps.delivery.tests.test_report_batches import acknowledged, post_batch, row
from apps.messaging.choices import JobStatus
from apps.messaging.job_state import jobs_accept_move
from apps.messaging.models import Job
from apps.messaging.selectors import jobs_offered_to
from apps.messaging.services import MessageInput, message_submit
from apps.messaging.tests.helpers import dispatch
from apps.providers.choices import Carrier
from apps.providers.tests.factories import provider_with_sim

pytestmark = pytest.mark.django_db
# The report batches' fixtures (a funded client, the provider's phone, room for many jobs; the provider: conftest).
organization, phone, roomy, prices = (
    batches.organization,
    batches.phone,
    batches.roomy,
    batches.prices,
)

postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="the text is built on PostgreSQL")


@contextmanager
def _built_by(compiler: type[SQLCompiler]) -> Iterator[list[str]]:
    """The statement texts `compiler` builds meanwhile."""
    built: list[str] = []
    original = compiler.as_sql

    def recording(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        # (sql, params), or a list of them from the INSERT compiler (one per statement)
        built.extend(sql for sql, _params in (result if isinstance(result, list) else [result]))
        return result

    with mock.patch.object(compiler, "as_sql", recording):
        yield built


def built_by_the_orm() -> AbstractContextManager[list[str]]:
    """The SELECT texts Django's compiler builds meanwhile."""
    return _built_by(SQLCompiler)


def updates_built_by_the_orm() -> AbstractContextManager[list[str]]:
    """The UPDATE texts Django's compiler builds meanwhile."""
    return _built_by(SQLUpdateCompiler)


def inserts_built_by_the_orm() -> AbstractContextManager[list[str]]:
    """The INSERT texts Django's compiler builds meanwhile."""
    return _built_by(SQLInsertCompiler)


def fields(instance) -> dict:
    return {field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields}


def test_the_locked_jobs_are_the_orm_querysets_rows_with_their_related_rows(organization, provider, phone, roomy):
    *jobs, delivered = acknowledged(organization, phone, 4)
    post_batch(phone, [row(delivered, "delivered")])
    other = provider_with_sim(Carrier.CELLCARD)
    since = timezone.now() - timedelta(minutes=1)
    recent = DeliveryReport.objects.filter(provider=provider, status="delivered", received_at__gte=since).count()
    assert recent == 1
    for ids in ([jobs[1].pk], [jobs[2].pk, jobs[0].pk], [job.pk for job in jobs]):
        expected = list(
            Job.objects.select_related("message__organization", "provider", "sim")
            .filter(pk__in=ids, provider__user=provider.user)
            .order_by("pk")
        )
        with transaction.atomic():
            got = _LOCKED_JOBS.run(ids, provider.user.pk, since)
            assert _LOCKED_JOBS.run(ids, other.user.pk, since) == []  # another provider's jobs are not among them
        assert [job.pk for job in got] == sorted(ids)
        for job, want in zip(got, expected, strict=True):
            assert fields(job) == fields(want)
            assert job.recent_deliveries == recent  # the burst check's count, read by the same statement
            with CaptureQueriesContext(connection) as reads:
                related = (job.message, job.message.organization, job.provider, job.sim)
            assert len(reads) == 0  # loaded with the job, as select_related does
            wanted = (want.message, want.message.organization, want.provider, want.sim)
            assert [fields(instance) for instance in related] == [fields(instance) for instance in wanted]
            assert job.message.text == want.message.text == "Hi"  # the encrypted body, opened
            assert job._state.adding is False and job._state.db == "default"


def test_the_offered_jobs_as_the_queryset_lists_them(organization, provider, phone, roomy):
    jobs = acknowledged(organization, phone, 2)
    Job.objects.filter(pk=jobs[1].pk).update(status="offered", accepted_at=None)
    offered = jobs_offered_to(user=provider.user)
    assert [(job.pk, job.status, job.accepted_at) for job in offered] == [(jobs[1].pk, "offered", None)]
    assert offered[0].message_id == jobs[1].message_id  # a deferred field loads when read, as with `only`


@postgresql_only
def test_a_warm_report_and_acknowledgement_build_none_of_the_compiled_selects(organization, provider, phone, roomy):
    jobs = acknowledged(organization, phone, 3)
    post_batch(phone, [row(jobs[0], "delivered")])  # warm: this process has built its statements
    with built_by_the_orm() as built, CaptureQueriesContext(connection) as ran:
        post_batch(phone, [row(jobs[1], "delivered"), row(jobs[2], "delivered")])
    executed = [query["sql"] for query in ran]
    assert any("= ANY(" in sql and "FOR UPDATE OF" in sql for sql in executed)  # the locked join ran…
    assert not [sql for sql in built if "= ANY(" in sql]  # …and neither it nor the stored reports were built
    assert not [sql for sql in built if 'FROM "incentives_rewardrule"' in sql]
    assert not [sql for sql in built if '"messaging_job"."deadline" >' in sql]  # the answer's offered jobs


def test_ids_in_selects_exactly_the_given_ids_whatever_their_container(organization, provider, phone, roomy):
    jobs = acknowledged(organization, phone, 3)
    select = CompiledSelect(lambda job_ids: Job.objects.filter(ids_in("pk", job_ids)).order_by("pk"))
    wanted = [jobs[0].pk, jobs[2].pk]
    assert [job.pk for job in select.run(wanted)] == wanted
    assert [job.pk for job in select.run({jobs[1].pk, 999_999_999})] == [jobs[1].pk]  # a set; an unknown id
    assert [job.pk for job in Job.objects.filter(ids_in("pk", tuple(wanted))).order_by("pk")] == wanted
    reports = DeliveryReport.objects.filter(ids_in("job_id", wanted))  # a foreign key's column
    assert list(reports) == []
    if connection.vendor == "postgresql":
        sql = str(Job.objects.filter(ids_in("pk", wanted)).query)
        assert "= ANY(" in sql and "unnest" not in sql  # an index condition in a generic plan too


def test_arguments_that_would_change_the_statement_are_refused():
    select = CompiledSelect(lambda job_ids: Job.objects.filter(ids_in("pk", job_ids)))
    with pytest.raises(TypeError):
        select.run(None)
    with pytest.raises(TypeError):
        select.run(True)
    assert select.run([]) == []


@postgresql_only
def test_a_statement_that_ignores_an_argument_is_refused_when_built():
    select = CompiledSelect(lambda job_ids, user_id: Job.objects.filter(ids_in("pk", job_ids)))
    with pytest.raises(ValueError, match="parameter"):
        select.run([1], 2)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_locking_select_outside_a_transaction_is_refused_as_the_orm_refuses_it():
    with transaction.atomic():
        assert _LOCKED_JOBS.run([1], 1, timezone.now()) == []  # built, in a transaction
    with pytest.raises(TransactionManagementError):
        _LOCKED_JOBS.run([1], 1, timezone.now())


@postgresql_only
def test_a_warm_acknowledgement_builds_no_update(organization, provider, phone, roomy):
    acknowledged(organization, phone, 1)  # warm: this process has its statements
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 900", body="Hi"))
    assert dispatch(message) == "assigned"
    job = Job.objects.get(message=message)
    with updates_built_by_the_orm() as built, CaptureQueriesContext(connection) as ran:
        assert phone.post(f"/api/jobs/{job.pk}/ack").status_code == 200
    assert [sql for sql in built if '"messaging_job"' in sql] == []
    # The move is the WITH clause of the statement that reads the jobs for the answer (apps.messaging.job_state).
    assert any(sql.startswith('WITH accept_moved AS (UPDATE "messaging_job"') for sql in (q["sql"] for q in ran))
    job.refresh_from_db()
    assert job.status == JobStatus.ACCEPTED
    assert job.accepted_at is not None


def test_the_acknowledgement_moves_only_offered_jobs(organization, provider, phone, roomy):
    [accepted] = acknowledged(organization, phone, 1)
    message = message_submit(organization=organization, api_key=None, data=MessageInput(to="012 345 901", body="Hi"))
    assert dispatch(message) == "assigned"
    offered = Job.objects.get(message=message)
    now = timezone.now()
    assert jobs_accept_move(job_ids=[accepted.pk, offered.pk], accepted_at=now) == 1
    assert jobs_accept_move(job_ids=[], accepted_at=now) == 0
    offered.refresh_from_db()
    assert (offered.status, offered.accepted_at) == (JobStatus.ACCEPTED, now)
    assert Job.objects.get(pk=accepted.pk).accepted_at != now  # already accepted: left as it was


# --- The statements' constants in their text -------------------------------------------------------------------------


def test_the_constants_a_queryset_fixes_are_written_into_the_text_and_its_arguments_stay_parameters():
    from apps.messaging.services.dispatch import _due_locked

    compiled = _due_locked(7)
    with transaction.atomic():
        assert compiled.run("high", timezone.now()) == []
    if connection.vendor != "postgresql":
        return
    built = compiled._built["default"]
    assert "= 'queued'" in built.sql and "LIMIT 7" in built.sql  # the queryset's own values: literals
    assert built.sql.count("%s") == 2 and sorted(index for index, _constant in built.slots) == [0, 1]  # priority, now


def test_a_constant_with_a_quote_or_a_percent_sign_is_written_as_the_same_value():
    report_free = CompiledSelect(
        lambda user_id: Job.objects.filter(provider__user_id=user_id, end_reason="it's 100% o'clock")
    )
    assert report_free.run(1) == []
    if connection.vendor == "postgresql":
        assert "'it''s 100%% o''clock'" in report_free._built["default"].sql


@postgresql_only
def test_a_compiled_update_writes_the_statuses_it_moves_from_into_its_text(organization, provider, phone, roomy):
    from apps.messaging.job_state import _moves_to

    jobs = acknowledged(organization, phone, 1)
    moved = _moves_to(JobStatus.SENT).run({"status": JobStatus.SENT, "sent_at": timezone.now()}, [jobs[0].pk])
    assert moved == 1
    (built,) = [b for key, b in _moves_to(JobStatus.SENT)._built.items() if key[0] == "default"]
    assert "\"status\" IN ('accepted', 'offered', 'unknown')" in built.sql
    assert all(index is not None for index, _constant in built.slots)  # no status left as a parameter


@postgresql_only
def test_the_dispatchers_generic_plan_can_use_the_partial_index_of_queued_messages():
    """A prepared statement's generic plan knows its parameters' types only: with `status = $1` the partial index
    `message_queued_due_idx (… WHERE status = 'queued')` is out of its reach, with the literal it is the plan."""
    from apps.messaging.services.dispatch import _due_locked

    compiled = _due_locked(5)
    with transaction.atomic():
        compiled.run("high", timezone.now())
        built = compiled._built["default"]
        sql, values = built.sql, ["'high'", "now()"]  # the arguments' SQL, by index
        numbered = sql.replace("%s", "$1", 1).replace("%s", "$2", 1)
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            cursor.execute("SET LOCAL enable_seqscan = off")  # the table is empty: the index is what is asked about
            cursor.execute(f"PREPARE due_generic AS {numbered}".replace("%%", "%"))
            try:
                cursor.execute(f"EXPLAIN EXECUTE due_generic({', '.join(values[index] for index, _ in built.slots)})")
                plan = "\n".join(line for (line,) in cursor.fetchall())
            finally:
                cursor.execute("DEALLOCATE due_generic")
    assert "message_queued_due_idx" in plan, plan


# --- One id: its own text, planned once ------------------------------------------------------------------------------


def test_one_id_and_several_select_the_same_rows_as_the_orm(organization, provider, phone, roomy):
    jobs = acknowledged(organization, phone, 3)
    select = CompiledSelect(lambda job_ids: Job.objects.filter(ids_in("pk", job_ids)).order_by("pk"))
    for ids in ([jobs[1].pk], {jobs[2].pk}, (jobs[0].pk,), [999_999_999], [jobs[0].pk, jobs[2].pk], []):
        expected = list(Job.objects.filter(pk__in=list(ids)).order_by("pk"))
        assert [fields(job) for job in select.run(ids)] == [fields(job) for job in expected], ids


@postgresql_only
def test_a_single_id_is_a_parameter_of_its_own_and_several_ids_an_array(organization, provider, phone, roomy):
    jobs = acknowledged(organization, phone, 2)
    select = CompiledSelect(
        lambda job_ids, user_id: Job.objects.filter(ids_in("pk", job_ids), provider__user_id=user_id).order_by("pk")
    )
    user_id = jobs[0].provider.user_id
    with CaptureQueriesContext(connection) as one:
        assert [job.pk for job in select.run([jobs[0].pk], user_id)] == [jobs[0].pk]
    with CaptureQueriesContext(connection) as two:
        assert [job.pk for job in select.run([jobs[0].pk, jobs[1].pk], user_id)] == [jobs[0].pk, jobs[1].pk]
    [one_sql], [two_sql] = [q["sql"] for q in one], [q["sql"] for q in two]
    assert '"messaging_job"."id" = ' in one_sql and "ANY(" not in one_sql
    assert '"messaging_job"."id" = ANY(' in two_sql


@postgresql_only
def test_one_id_is_planned_once_where_its_array_was_planned_at_every_execution(organization, provider, phone, roomy):
    """PostgreSQL keeps a prepared statement's generic plan, planned once, when after five custom plans it costs no
    more than they do. Read by the primary key (the test's table is too small for anything but a sequential scan
    otherwise), the array's generic plan counts ten ids and loses to the custom plans of one, every time; one id's
    does not."""
    jobs = acknowledged(organization, phone, 2)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        select = CompiledSelect(lambda job_ids: Job.objects.filter(ids_in("pk", job_ids), attempt__gte=0))
        for _ in range(12):
            assert len(select.run([jobs[0].pk])) == 1
            assert len(select.run([jobs[0].pk, jobs[1].pk])) == 2
        cursor.execute(
            "SELECT statement LIKE '%%= ANY(%%', generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE %s ORDER BY 1",
            ['%"messaging_job"."attempt" >= 0%'],
        )
        plans = cursor.fetchall()
    assert plans == [(False, 7, 5), (True, 0, 12)]


@postgresql_only
def test_a_compiled_update_of_one_id_moves_it_by_its_own_text(organization, provider, phone, roomy):
    from apps.messaging.job_state import _moves_to

    jobs = acknowledged(organization, phone, 2)
    with CaptureQueriesContext(connection) as ran:
        moved = _moves_to(JobStatus.SENT).run({"status": JobStatus.SENT, "sent_at": timezone.now()}, [jobs[0].pk])
    assert moved == 1
    [sql] = [q["sql"] for q in ran]
    assert "ANY(" not in sql
    assert _moves_to(JobStatus.SENT).run({"status": JobStatus.SENT, "sent_at": timezone.now()}, {jobs[1].pk}) == 1
    assert sorted(Job.objects.filter(pk__in=[j.pk for j in jobs]).values_list("status", flat=True)) == ["sent"] * 2
