"""The job state machine: the one place a job's (a lease's) status changes.

    offered ──phone acks──▶ accepted ──phone sent──▶ sent
       │ └──────────── phone sent (no ack) ───────────▶│
       └──── offered / accepted / sent ─▶ delivered | failed | expired | cancelled   (the lease ends)

    accepted ──lease ends, no report──▶ unknown ──phone (or staff) answers──▶ sent | delivered | failed
                                           └──no answer in time──▶ expired (the message: unknown, final)

An acknowledged job never goes back to the queue on a timer: the phone may have sent the SMS and its report may
just be late (an overloaded server, a phone offline with its outbox). Only the phone's own report, or staff, say
what happened; without either the outcome stays unknown for good rather than risking a second send.

Every move is a conditional update: the row moves only while it is still in a status the move is legal from, so a
job that another process moved first (a report against a lease the sweeper just expired) is left alone and the
caller gets False (or a smaller count). A move the table does not allow from the status the caller loaded is a bug
in the caller, refused with IllegalJobTransition. Runs in the caller's transaction; delivery reaches these moves
only through messaging's services (`apps.messaging.services`), never by writing jobs itself.
"""

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import connections, router
from django.db.models import BooleanField, Case, Value, When
from django.db.models.expressions import RawSQL

from apps.core.compiled import CompiledUpdate, ids_in
from apps.core.prepared import prepared_cursor, statements_prepared
from apps.messaging.choices import JobStatus as J
from apps.messaging.errors import IllegalJobTransition
from apps.messaging.models import Job

_ENDED = frozenset({J.DELIVERED, J.FAILED, J.EXPIRED, J.CANCELLED})
JOB_TRANSITIONS: dict[str, frozenset[str]] = {
    J.OFFERED: frozenset({J.ACCEPTED, J.SENT}) | _ENDED,
    # A phone may report sent (or delivered) without having acknowledged: the report says it has the job.
    J.ACCEPTED: frozenset({J.SENT, J.UNKNOWN}) | _ENDED,
    J.SENT: _ENDED,
    # The phone's late answer (or staff) resolves it; without one it expires (the message's outcome stays unknown).
    J.UNKNOWN: frozenset({J.SENT}) | _ENDED,
    J.DELIVERED: frozenset(),
    J.FAILED: frozenset(),
    J.EXPIRED: frozenset(),
    J.CANCELLED: frozenset(),
}
# For each target, the statuses a move to it is legal from: the condition of its UPDATE.
_SOURCES: dict[str, frozenset[str]] = {
    target: frozenset(source for source, targets in JOB_TRANSITIONS.items() if target in targets) for target in J
}


def job_is_legal(current: str, target: str) -> bool:
    return target in JOB_TRANSITIONS.get(current, frozenset())


def job_transition(*, job: Job, to: str, **fields: Any) -> bool:
    """Move `job` to `to`, setting `fields` (plain values) in the same UPDATE, if the row is still in a status the
    move is legal from. Returns whether it moved; the loaded `job` is updated to match when it did.

    Raises IllegalJobTransition when the move is not legal from the status `job` was loaded with."""
    if not job_is_legal(job.status, to):
        raise IllegalJobTransition(details={"job": job.pk, "from": job.status, "to": to})
    if Job.objects.filter(pk=job.pk, status__in=_SOURCES[to]).update(status=to, **fields) != 1:
        return False
    job.status = to
    for name, value in fields.items():
        setattr(job, name, value)
    return True


def jobs_transition(*, job_ids: Iterable[int], to: str, **fields: Any) -> int:
    """The bulk form: move, in one UPDATE, those of `job_ids` whose rows are in a status the move to `to` is legal
    from (others are left as they are), setting `fields`. Returns how many moved."""
    if not _SOURCES.get(to):
        raise IllegalJobTransition(details={"to": to})
    ids = list(job_ids)
    if not ids:
        return 0
    # One value for every job (`per_job` of one job, a phone's single report) is written as a plain value: the
    # statement's text is then the same each time, built once per process (apps.core.compiled).
    values = {name: value.value if type(value) is Value else value for name, value in fields.items()}
    return _moves_to(to).run({"status": to, **values}, ids)


def jobs_transition_then(
    *, job_ids: Iterable[int], to: str, then: str | None, then_params: Sequence[Any], **fields: Any
) -> tuple[int, list[tuple] | None]:
    """`jobs_transition`, and a read of other rows (`then`, PostgreSQL's text with `%s` parameters) in the same
    statement where it can (PostgreSQL, plain values): how many moved, and the read's rows — None when the read did
    not run (no `then`, or the UPDATE is the ORM's: the caller reads by itself). The read sees the database as the
    statement began."""
    ids = list(job_ids)
    if then is None or not ids or not _SOURCES.get(to):
        return jobs_transition(job_ids=ids, to=to, **fields), None
    values = {name: value.value if type(value) is Value else value for name, value in fields.items()}
    return _moves_to(to).run_then({"status": to, **values}, ids, then=then, then_params=then_params)


_MOVES: dict[str, CompiledUpdate] = {}


def _moves_to(to: str) -> CompiledUpdate:
    """The UPDATE of the jobs among some ids that a move to `to` is legal from (argument: the ids)."""
    if to not in _MOVES:
        sources = sorted(_SOURCES[to])
        _MOVES[to] = CompiledUpdate(lambda ids: Job.objects.filter(ids_in("pk", ids), status__in=sources))
    return _MOVES[to]


@functools.cache  # PostgreSQL's text, built at the first acknowledgement
def _accept_sql() -> str:
    quote = connections[router.db_for_write(Job)].ops.quote_name
    status, accepted_at = (quote(Job._meta.get_field(name).column) for name in ("status", "accepted_at"))
    sources = ", ".join(f"'{source}'" for source in sorted(_SOURCES[J.ACCEPTED]))
    return (
        f"UPDATE {quote(Job._meta.db_table)} SET {status} = '{J.ACCEPTED}', {accepted_at} = %s "  # noqa: S608 - names, choices
        f"WHERE {quote(Job._meta.pk.column)} = ANY(%s::bigint[]) AND {status} IN ({sources})"
    )


def jobs_accept_move(*, job_ids: Sequence[int], accepted_at: datetime) -> int:
    """`jobs_transition(job_ids=…, to=ACCEPTED, accepted_at=…)`, the move of every acknowledgement: on PostgreSQL one
    constant text, prepared once per connection — Django built the UPDATE anew for each acknowledgement, which cost
    more CPU than running it. The same statement as the ORM's otherwise. Returns how many moved."""
    using = router.db_for_write(Job)
    if not statements_prepared(using):
        return jobs_transition(job_ids=job_ids, to=J.ACCEPTED, accepted_at=accepted_at)
    if not job_ids:
        return 0
    with prepared_cursor(using) as cursor:
        cursor.execute(_accept_sql(), [accepted_at, list(job_ids)])
        return cursor.rowcount


_ACCEPT_MOVED = "accept_moved"


def jobs_accept_clause(connection: Any) -> tuple[str, tuple[int, ...]]:
    """The acknowledgement as a leading WITH clause, for a compiled SELECT of the jobs (apps.core.compiled) whose
    arguments are (job ids, the provider's user id, the time): it moves those of the jobs that are that provider's,
    offered and live to accepted (`accepted_at` the time), locking them in id order as every lease's lock does, and
    names their ids `accept_moved` (`jobs_accept_moved` reads it). The same move as `jobs_accept_move`; the SELECT
    after it sees the rows as they were before the statement (PostgreSQL's snapshot), so the caller sets the moved
    ones' status. PostgreSQL's text, built once per process."""
    quote = connection.ops.quote_name
    table, pk = quote(Job._meta.db_table), quote(Job._meta.pk.column)
    status, accepted_at, deadline, provider = (
        quote(Job._meta.get_field(name).column) for name in ("status", "accepted_at", "deadline", "provider")
    )
    providers = Job._meta.get_field("provider").related_model._meta
    user = quote(providers.get_field("user").column)
    sources = ", ".join(f"'{source}'" for source in sorted(_SOURCES[J.ACCEPTED]))
    clause = (
        f"WITH {_ACCEPT_MOVED} AS (UPDATE {table} SET {status} = '{J.ACCEPTED}', {accepted_at} = %s "  # noqa: S608 - names, choices
        f"WHERE {pk} IN (SELECT {pk} FROM {table} WHERE {pk} = ANY(%s::bigint[]) AND {status} IN ({sources}) "
        f"AND {deadline} > %s AND {provider} IN (SELECT {quote(providers.pk.column)} FROM {quote(providers.db_table)} "
        f"WHERE {user} = %s) ORDER BY {pk} FOR UPDATE) RETURNING {pk})"
    )
    return clause, (2, 0, 2, 1)


def jobs_accept_moved() -> RawSQL:
    """The annotation that says whether a job of the SELECT after `jobs_accept_clause` is one its move acknowledged."""
    quote = connections[router.db_for_write(Job)].ops.quote_name
    table, pk = quote(Job._meta.db_table), quote(Job._meta.pk.column)
    sql = f"{table}.{pk} IN (SELECT {pk} FROM {_ACCEPT_MOVED})"  # noqa: S608 - names of ours
    return RawSQL(sql, (), output_field=BooleanField())  # noqa: S611 - no value in it


def per_job(values: Mapping[int, Any], field: str) -> Case | Value:
    """One column's value per job, for an UPDATE that sets each row its own (`values` by job id). The same value
    for every job (always so for one: a phone's single report) is set as it is, without a CASE to build."""
    output = Job._meta.get_field(field)
    distinct = set(values.values())
    if len(distinct) == 1:
        return Value(next(iter(distinct)), output_field=output)
    whens = [When(pk=pk, then=Value(value)) for pk, value in values.items()]
    return Case(*whens, output_field=output)
