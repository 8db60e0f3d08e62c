"""Rows inserted cheaply on PostgreSQL: one statement whatever the number of rows, its text built once per model and
prepared once per connection — the INSERT counterpart of `apps.core.compiled`.

`bulk_create` prepares each column of each row through its model field (`get_db_prep_save`), hands PostgreSQL one
parameter per value (or one array per column), which the driver adapts value by value in Python, and builds a new
statement text for each number of rows, which PostgreSQL then parses and plans again. Here the rows travel as one
JSON document (`json.dumps` is C) and are cast back column by column in the INSERT itself, the way the ledger writes
its batches (`apps.tokens.services.storage`). Rows come back in the order they were sent (`WITH ORDINALITY … ORDER
BY`), which is how their ids are given back to the objects, as `bulk_create` does. Elsewhere (SQLite), `bulk_create`.

Used for the hot paths' rows: messages and a dispatch batch's jobs (apps.messaging.inserting), a phone's delivery
reports, the settle batch's rewards.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

from django.db import connection, models
from django.db.models import DateTimeField, JSONField

from apps.core.fields import BlindIndexField, EncryptedMixin
from apps.core.prepared import prepared_cursor


def rows_insert(model: type[models.Model], objects: Sequence[models.Model]) -> None:
    """Insert the unsaved `objects` of `model` and set their ids, in one statement (`bulk_create` on SQLite)."""
    if not objects:
        return
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objects)
        return
    with prepared_cursor() as cursor:  # one text whatever the number of rows: planned once per connection
        cursor.execute(row_columns(model).bulk_sql, [rows_json(model, objects)])
        ids = [row[0] for row in cursor.fetchall()]
    if len(ids) != len(objects):
        raise RuntimeError(f"{len(objects)} rows sent to the INSERT, {len(ids)} came back")
    for instance, pk in zip(objects, ids, strict=True):
        row_inserted(instance, pk)


def _encode(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} in a row")


@dataclass(frozen=True)
class RowColumns:
    plain: Callable[[Any], tuple]  # every column's attribute at once (one C call): most are sent as they are
    prepared: list[tuple[int, Callable[[Sequence[Any]], list[Any]]]]  # the others, by position: a column's values
    insert: str  # INSERT INTO the table (its columns)
    bulk_sql: str  # the bulk INSERT: rows as one jsonb array, in order
    held_values: str  # the select list of one row sent as jsonb `r.value` (for `message_held_row`)


_ROW_COLUMNS: dict[type[models.Model], RowColumns] = {}


def _prepared_by_field(field: Any) -> Callable[[Sequence[Any]], list[Any]]:
    """The column's values for the objects, as `field.get_db_prep_save(field.pre_save(…))` gives each — an encrypted
    column's all at once (`get_db_prep_save_many`: one subkey for the batch's values, each with its own nonce)."""
    if isinstance(field, EncryptedMixin):
        return lambda objects: field.get_db_prep_save_many(
            [field.pre_save(instance, add=True) for instance in objects], connection
        )
    return lambda objects: [
        field.get_db_prep_save(field.pre_save(instance, add=True), connection) for instance in objects
    ]


def _auto_now(field: DateTimeField) -> Callable[[Sequence[Any]], list[Any]]:
    return lambda objects: [_iso(field.pre_save(instance, add=True)) for instance in objects]


def _times(field: DateTimeField) -> Callable[[Sequence[Any]], list[Any]]:
    """A time column's values as the JSON document holds them (ISO 8601, as `_encode` writes them), read here rather
    than by `json.dumps` calling back into Python for each of a row's four times."""
    read = attrgetter(field.attname)
    return lambda objects: [_iso(read(instance)) for instance in objects]


def _iso(value: Any) -> Any:
    return value.isoformat() if type(value) is datetime else value  # anything else: as `json.dumps` takes it


def row_columns(model: type[models.Model]) -> RowColumns:
    """Built once per model from its fields, so a new column is inserted without touching this. Each column's value
    is cast back from a JSON row (a jsonb array) in the statement."""
    if model not in _ROW_COLUMNS:
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        prepared: list[tuple[int, Callable[[Sequence[Any]], list[Any]]]] = []
        selects = []
        for position, field in enumerate(fields):
            if isinstance(field, EncryptedMixin | BlindIndexField):
                # Encrypted at rest, or a keyed hash computed on save: prepared by the field itself (as bulk_create
                # would), never sent as the plain value.
                prepared.append((position, _prepared_by_field(field)))
            elif isinstance(field, DateTimeField) and (field.auto_now or field.auto_now_add):
                prepared.append((position, _auto_now(field)))
            elif type(field) is DateTimeField:
                prepared.append((position, _times(field)))
            if isinstance(field, JSONField):
                selects.append(f"{{alias}}.value->{position}")  # jsonb as it is
            else:
                selects.append(f"({{alias}}.value->>{position})::{field.db_type(connection)}")
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(field.column) for field in fields)
        insert = f"INSERT INTO {table} ({names})"
        bulk_values = ", ".join(select.format(alias="e") for select in selects)
        _ROW_COLUMNS[model] = RowColumns(
            plain=attrgetter(*(field.attname for field in fields)),
            prepared=prepared,
            insert=insert,
            bulk_sql=(
                f"{insert} SELECT {bulk_values} "  # noqa: S608 - names from the model only
                "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY e ORDER BY e.ordinality RETURNING id"
            ),
            held_values=", ".join(select.format(alias="r") for select in selects),
        )
    return _ROW_COLUMNS[model]


def rows_json(model: type[models.Model], objects: Sequence[models.Model]) -> str:
    """The objects' rows as one JSON document (`json.dumps` is C)."""
    columns = row_columns(model)
    plain, prepared = columns.plain, columns.prepared
    rows = [list(plain(instance)) for instance in objects]
    for position, read in prepared:
        for row, value in zip(rows, read(objects), strict=True):
            row[position] = value
    return json.dumps(rows, default=_encode, ensure_ascii=False)


def row_inserted(instance: models.Model, pk: int) -> None:
    """Mark `instance` as the stored row `pk` (as `save` would)."""
    instance.pk = pk
    instance._state.adding = False
    instance._state.db = connection.alias
