"""Message and job rows inserted cheaply: the send paths' INSERT (one row or a bulk request's thousand), and the
dispatcher's INSERT of a batch's jobs, through `apps.core.inserting` (rows as one JSON document, one prepared text).

`bulk_create` prepares each of a message's 30 columns through its model field (`get_db_prep_save`) and hands
PostgreSQL one array per column, which the driver builds value by value in Python: for a bulk request of 1,000
recipients that cost more than validating them. A single send's guarded INSERT and the held row the ledger inserts
(`message_held_row`) read the columns the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection
from django.db.models import signals
from django.db.models.base import ModelState

from apps.core.inserting import row_columns, row_inserted, rows_insert, rows_json
from apps.core.prepared import prepared_cursor
from apps.messaging.idempotency import key_row_with_message, key_written
from apps.messaging.models import Job, Message
from apps.tokens.services import HeldRow

# A condition an INSERT carries and its named parameters (apps.messaging.selectors.recipient_guard).
Guard = tuple[str, dict[str, object]]


class GuardRefused(Exception):
    """A guarded INSERT found its condition false: nothing was written."""


def messages_insert(messages: Sequence[Message], *, guard: Guard | None = None) -> None:
    """Insert the unsaved messages and set their ids, in one statement.

    A single send takes the same statement on PostgreSQL: it costs about half the CPU of `save`, whose SQL compiler
    prepares every column and quotes every name again for each row. `guard` (one message, PostgreSQL): a condition
    the row must meet; where it does not, nothing is inserted and `GuardRefused` is raised."""
    if guard is not None:
        if connection.vendor != "postgresql" or len(messages) != 1:
            raise ValueError("a guarded INSERT is for one message on PostgreSQL")
        condition, params = guard
        insert = (
            f"{row_columns(Message).insert} SELECT {row_columns(Message).held_values} "  # noqa: S608 - model names
            f"FROM (SELECT %(message_row)s::jsonb->0 AS value) r WHERE {condition} RETURNING id"
        )
        params = {"message_row": rows_json(Message, messages), **params}
        # A send with an Idempotency-Key writes the key's row in the same statement, as the held send's does
        # (apps.messaging.idempotency): the key taken raises IntegrityError and the statement writes nothing.
        key_row = key_row_with_message(messages[0]) if not connection.in_atomic_block else None
        if key_row is not None:
            insert = f"WITH held_row AS ({insert}){key_row.sql} SELECT id FROM held_row"  # noqa: S608 - constants
            params.update(key_row.params)
        with prepared_cursor() as cursor:  # one text per condition: planned once per connection
            cursor.execute(insert, params)
            row = cursor.fetchone()
        if row is None:
            raise GuardRefused
        row_inserted(messages[0], row[0])
        if key_row is not None:
            key_written(key_row, messages[0])
        return
    if connection.vendor != "postgresql":
        if len(messages) == 1:
            messages[0].save(force_insert=True)  # a plain INSERT, without the transaction bulk_create opens
        else:
            Message.objects.bulk_create(messages)
        return
    rows_insert(Message, messages)


def jobs_insert(jobs: Sequence[Job]) -> None:
    """Insert a dispatch batch's unsaved jobs and set their ids, in one statement. `bulk_create` spent more of the
    dispatcher's CPU preparing a batch's 1,700 parameters (17 columns x 100 jobs) one field at a time than on
    anything else it did per job; PostgreSQL then parsed and planned a statement that was new every time."""
    rows_insert(Job, jobs)


def message_unsaved(*, like: Message | None = None, **values: Any) -> Message:
    """`Message(**values)`: the same unsaved instance, built without `Model.__init__`'s generic loop over the
    model's 36 fields (~16 µs, the dearest step of a bulk item after the content filter). Relations are set through
    their descriptors, as `__init__` sets them (id, cached object, the instance's database); every other field is
    the value given or its default, a callable default called for each message. With init signals connected (none
    are), it is `Message(**values)`. A test holds the two equal.

    `like`: a message of the same request built through the descriptors with the same related objects (the bulk
    request's organisation and key): what they set — each relation's id and cached object, the instance's database
    (the router's choice for those objects) — is copied from it, which costs a fraction of the two descriptors
    (~2.5 µs a message). Anything else (other objects, None, an id that changed since) goes through them."""
    if (signals.pre_init.receivers or signals.post_init.receivers) and (
        signals.pre_init.has_listeners(Message) or signals.post_init.has_listeners(Message)
    ):
        return Message(**values)
    plain, relations, shared, called = _builder()
    message = Message.__new__(Message)
    message._state = ModelState()
    state = message.__dict__
    state.update(shared)  # every field's default first, in the fields' order, then what was given over them
    objects = values.keys() - plain  # relations given as objects (`organization=`), or unknown names
    if objects <= relations.keys() and not any(relations[name] in values for name in objects):
        state.update(values)
        for name in objects:
            del state[name]
        if like is not None and _relations_as_in(like, objects, values):
            message._state.db = like._state.db
            cache = message._state.fields_cache
            for name in objects:
                attname, target, cache_name = _RELATIONS[name]
                value = values[name]
                state[attname] = getattr(value, target)
                cache[cache_name] = value
        else:
            for name in objects:  # through the descriptor, as __init__ sets them
                setattr(message, name, values[name])
    else:  # a name that is not a field, or a relation given both ways: in order, as __init__ would take them
        for name, value in values.items():
            if name in plain:
                state[name] = value
            elif name in relations:
                setattr(message, name, value)
            else:
                raise TypeError(f"Message got an unexpected keyword argument {name!r}")
    for attname, name, default in called:
        if attname not in values and name not in values:
            state[attname] = default()
    return message


def _relations_as_in(like: Message, names: Any, values: dict[str, Any]) -> bool:
    """Whether the descriptors would set on a new message what they set on `like`: the same objects (not None, and
    given a database already), with the ids they have now."""
    if like._state.db is None or "fields_cache" not in like._state.__dict__:
        return False
    cached = like._state.fields_cache
    for name in names:
        attname, target, cache_name = _RELATIONS[name]
        value = values[name]
        if (
            value is None
            or cached.get(cache_name) is not value
            or value._state.db is None
            or like.__dict__.get(attname) != getattr(value, target)
        ):
            return False
    return True


# Each forward relation's name: (its attname, the related field's attname it copies, its cache name); filled with
# the builder's tables, once the models are ready.
_RELATIONS: dict[str, tuple[str, str, str]] = {}

# The fields' attnames (a relation's id too: `organization_id=`), given values are set as they are; the relations'
# names (to their attnames), whose objects go through their descriptors; the defaults every message shares (as
# `Field.get_default` returns them), by attname; and the callable ones (attname, name, callable), called per message.
_Builder = tuple[frozenset[str], dict[str, str], dict[str, Any], list[tuple[str, str, Callable[[], Any]]]]
_BUILDER: _Builder | None = None


def _builder() -> _Builder:
    global _BUILDER
    if _BUILDER is None:
        fields = Message._meta.concrete_fields
        shared, called = {}, []
        for field in fields:
            if field.has_default() and callable(field.default):
                shared[field.attname] = None  # its place in the order; called for each message
                called.append((field.attname, field.name, field.default))
            else:
                shared[field.attname] = field.get_default()
        _RELATIONS.update(
            (field.name, (field.attname, field.target_field.attname, field.cache_name))
            for field in fields
            if field.is_relation
        )
        _BUILDER = (
            frozenset(field.attname for field in fields),
            {field.name: field.attname for field in fields if field.is_relation},
            shared,
            called,
        )
    return _BUILDER


def message_held_row(
    message: Message, *, id_prefix: str, guard: Guard | None = None, companion: Guard | None = None
) -> HeldRow:
    """The unsaved message as a row the ledger inserts in the statement that books its hold
    (`client_hold_create_with_row`): its columns read as the bulk INSERT reads them (encrypted, blind-indexed), sent
    as one JSON row and cast back column by column in the statement — one parameter instead of one per column,
    each of which the driver would adapt on its own. `guard`: a condition the row must meet (`messages_insert`).
    `companion`: more CTEs written with the row, and their parameters (`HeldRow.companion`)."""
    columns = row_columns(Message)
    condition, params = guard if guard is not None else ("TRUE", {})
    also, also_params = companion if companion is not None else ("", {})
    return HeldRow(
        insert=columns.insert,
        values=columns.held_values,
        params={"message_row": rows_json(Message, [message]), **params, **also_params},
        id_prefix=id_prefix,
        source="CROSS JOIN (SELECT %(message_row)s::jsonb->0 AS value) r",
        guard=condition,
        companion=also,
    )
