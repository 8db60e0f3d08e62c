"""Fixed-shape ORM SELECTs and UPDATEs whose SQL is built once per process, for the hot paths of a phone's requests
and the workers' batches.

Building SQL through the ORM (`SQLCompiler.as_sql`: the select list, joins, quoting every column) cost more of the
web's CPU end to end than running the statements: a third of it in cProfile, most of it for the same few queries with
new values each time — a report's locked five-table join of its jobs, an acknowledgement's lock, the offered jobs the
answers carry. `CompiledSelect` builds such a queryset once (on PostgreSQL, with DATABASE_PREPARED_STATEMENTS on),
with stand-in values for its arguments, keeps the statement's text and the compiler's description of its rows, and
then runs the text with each call's values through `prepared_cursor` (so PostgreSQL can plan it once per connection
as well), building the model instances as Django's own iterable does (`from_db`, the related objects of
`select_related`, deferred fields). Anywhere else — SQLite, prepared statements off — it runs the queryset as built.

What a query may take as arguments: ints, strings and datetimes (each compared, filtered or looked up as a plain value;
never None, which the ORM would turn into IS NULL) and lists of ids, which the queryset must filter with `ids_in` (on
PostgreSQL `= ANY(%s::bigint[])`, one parameter whatever the number of ids, so the text stays the same; a list of one id
runs `= %s::bigint` instead, see `_OneIdTexts`). The text is checked once, when it is built: every stand-in must land in
a parameter (one or more). The values the queryset fixes itself — a status, a kind: constants of the code, not a
caller's — are written into the text as literals (`_inline`), so that the statement's generic plan can use a partial
index on them.

`CompiledUpdate` does the same for an UPDATE of plain values (a job's or message's move, a report's settle mark): one
text per set of columns, each value prepared for its column as the ORM's `update()` prepares it; a value it cannot
carry as a parameter (an expression other than arithmetic on the row's columns, JSON, a Decimal) goes to the ORM.
"""

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connections, router, transaction
from django.db.models import F, Lookup, Model, QuerySet, Value
from django.db.models.expressions import CombinedExpression
from django.db.models.query import get_related_populators
from django.db.models.sql import UpdateQuery
from django.db.transaction import TransactionManagementError
from psycopg.types.numeric import Int8

from apps.core.prepared import prepared_cursor, statements_prepared

_INT_BASE = -8_070_450_532_247_928_832  # far below any id, count or amount the project stores
_DATETIME_BASE = datetime(1901, 12, 13, tzinfo=UTC)


class IdsIn(Lookup):
    """`column` is one of a list of ids: on PostgreSQL `column = ANY(%s::bigint[])`, one array parameter (the text does
    not change with the number of ids), elsewhere `column IN (%s, ...)`.

    Not `IN (SELECT unnest(%s::bigint[]))`, the form it replaces: a prepared statement's generic plan cannot see how
    many ids the array holds (a set-returning function of a parameter counts as 100 rows), so PostgreSQL either joined
    the sub-select to every row the other conditions allow — an acknowledgement's and a report's join read and sorted
    all of the phone's jobs, ever — or judged that plan too dear and planned the statement afresh at every execution.
    With a phone of 980 jobs, a report's locked join of one job cost 1.13 ms of the backend's CPU and 0.38–0.62 ms
    with `= ANY`, an acknowledgement of nobody's job 0.59–0.73 ms and 0.21–0.51 ms (benchmarks/RESULTS.md). `= ANY`
    of a parameter is an index condition on the primary key (or the foreign key's index) in a generic plan as in a
    custom one, whatever the phone's history."""

    lookup_name = "ids_in"  # not registered on any field: built by `ids_in` only
    prepare_rhs = False

    def get_prep_lookup(self) -> list[int]:
        return list(self.rhs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        column, params = compiler.compile(self.lhs)
        if connection.vendor == "postgresql":
            return f"{column} = ANY(%s::bigint[])", [*params, self.rhs]
        if not self.rhs:
            raise EmptyResultSet
        return f"{column} IN ({', '.join(['%s'] * len(self.rhs))})", [*params, *self.rhs]


def ids_in(column: str, ids: Any) -> IdsIn:
    """The condition that `column` (a field's name, `pk`, or a foreign key's `<name>_id`) is one of `ids`, for a
    queryset's `filter()` and so for a `CompiledSelect` or `CompiledUpdate` (see `IdsIn`)."""
    if isinstance(ids, set | frozenset | tuple):
        ids = list(ids)
    return IdsIn(F(column), ids)


def _stand_in(index: int, value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        raise TypeError(f"argument {index}: {value!r} cannot be a compiled query's argument")
    if isinstance(value, int):
        return _INT_BASE + index
    if isinstance(value, str):
        return f"\x1fcompiled-argument-{index}\x1f"
    if isinstance(value, datetime):
        return _DATETIME_BASE.replace(second=index)
    if isinstance(value, list | tuple | set | frozenset):
        return [_INT_BASE + index]
    raise TypeError(f"argument {index}: {type(value).__name__} cannot be a compiled query's argument")


def _same(param: Any, stand_in: Any) -> bool:
    if type(stand_in) is int and isinstance(param, int) and not isinstance(param, bool):
        # A value written to an integer column comes prepared as psycopg's Int2/Int4/Int8 (an int subclass).
        return int(param) == stand_in
    return type(param) is type(stand_in) and param == stand_in


def _slots(params: Sequence[Any], stand_ins: list[Any], *, taken: Sequence[int] = ()) -> list[tuple[int | None, Any]]:
    """For each parameter of a built statement, the argument whose stand-in it is (index, None), or the constant it is
    (None, value). Refused when a stand-in is in no parameter (nor among `taken`, the arguments a leading clause
    takes): the text would not change with that argument."""
    slots: list[tuple[int | None, Any]] = []
    used = [0] * len(stand_ins)
    for index in taken:
        used[index] += 1
    for param in params:
        found = [index for index, stand_in in enumerate(stand_ins) if _same(param, stand_in)]
        if found:
            used[found[0]] += 1
            slots.append((found[0], None))
        else:
            slots.append((None, param))
    if 0 in used:
        raise ValueError(f"each argument must be a parameter of the statement (uses: {used})")
    return slots


_PLACEHOLDER = re.compile(r"%%|%s")


def _literal(value: Any) -> str | None:
    """A constant of the statement as SQL text (for `%`-formatted text: a `%` doubled), or None to keep it a
    parameter: strings without NUL, integers, booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    return None


def _inline(sql: str, slots: list[tuple[int | None, Any]]) -> tuple[str, list[tuple[int | None, Any]]]:
    """The statement with its constants — the values its queryset fixes itself, not its arguments: a status, a
    kind — written into its text as literals, and the slots of the parameters left.

    A prepared statement's generic plan sees a parameter as any value: `status = $3` cannot use a partial index
    whose predicate is `status = 'offered'`, and its estimated cost (the average status's rows) is higher than the
    custom plans' (the constant's), so PostgreSQL planned such statements afresh at every execution (0 generic of
    400 executions), most of their backend's CPU. With the literal the generic plan can use that index (the phone's
    offered jobs: a sequential scan became `job_provider_status_idx`, and the plan cache took the generic plan in 1,951
    of 1,960 executions where it had in 119–318), and PostgreSQL plans the statement once per connection unless
    something else keeps the two apart — a parameter array, which the generic plan counts as ten ids (`IdsIn`),
    still does for the acknowledgement and a report's reads (benchmarks/RESULTS.md)."""
    kept: list[tuple[int | None, Any]] = []
    pieces: list[str] = []
    position, start = 0, 0
    for match in _PLACEHOLDER.finditer(sql):
        if match.group() == "%%":
            continue
        index, constant = slots[position]
        position += 1
        literal = _literal(constant) if index is None else None
        if literal is None:
            kept.append((index, constant))
        else:
            pieces.append(sql[start : match.start()] + literal)
            start = match.end()
    if position != len(slots):
        raise ValueError(f"the statement has {position} placeholders for {len(slots)} parameters")
    return "".join(pieces) + sql[start:], kept


_ANY_IDS = "= ANY(%s::bigint[])"
_ONE_ID = "= %s::bigint"


class _OneIdTexts:
    """A built statement's texts by which of its lists of ids hold one id: there, `= ANY(%s::bigint[])` becomes
    `= %s::bigint` with the id itself (an int8) as the parameter.

    A prepared statement's generic plan counts an array parameter as ten ids, and the custom plans see the one id a
    phone's acknowledgement or report carries, so `plan_cache_mode = auto` judged the generic plan dearer and planned
    these statements afresh at every execution (bind: 0.1–0.25 ms of the backend's CPU each, more than executing
    them; benchmarks/RESULTS.md). A single id's generic plan estimates what its custom plans do, so PostgreSQL plans
    it once per connection. The text stays one per shape: a list of one id, or the array for any other number."""

    def __init__(self, sql: str, slots: list[tuple[int | None, Any]], stand_ins: list[Any]) -> None:
        self.sql = sql
        self.arrays: list[int] = []  # the parameters (by position) that are a list of ids written `= ANY(…)`
        self.places: list[int] = []  # and where each one's placeholder starts in the text
        position = 0
        for match in _PLACEHOLDER.finditer(sql):
            if match.group() == "%%":
                continue
            index = slots[position][0]
            start = match.start() - len("= ANY(")
            if index is not None and isinstance(stand_ins[index], list) and sql.startswith(_ANY_IDS, start):
                self.arrays.append(position)
                self.places.append(start)
            position += 1
        self.texts: dict[tuple[int, ...], str] = {(): sql}

    def text(self, params: list[Any]) -> tuple[str, list[Any]]:
        """The text for these parameters (the built text's, in order), and the parameters it takes."""
        if not self.arrays:
            return self.sql, params
        single = tuple(n for n, position in enumerate(self.arrays) if len(params[position]) == 1)
        if not single:
            return self.sql, params
        sql = self.texts.get(single)
        if sql is None:
            pieces, start = [], 0
            for n in single:
                place = self.places[n]
                pieces.append(self.sql[start:place] + _ONE_ID)
                start = place + len(_ANY_IDS)
            sql = self.texts[single] = "".join(pieces) + self.sql[start:]
        params = list(params)
        for n in single:
            position = self.arrays[n]
            params[position] = Int8(params[position][0])
        return sql, params


class _Built:
    """One process's built statement: its text, where each argument goes, and how its rows become instances."""

    def __init__(
        self, queryset: QuerySet, stand_ins: list[Any], connection: Any, with_: tuple[str, Sequence[int]] | None = None
    ) -> None:
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()  # also fills compiler.select, klass_info, annotation_col_map
        leading, taken = with_ or ("", ())
        sql, own = _inline(sql, _slots(params, stand_ins, taken=taken))
        slots = [(index, None) for index in taken] + own
        self.connection = connection
        self.sql = f"{leading} {sql}" if leading else sql
        self.slots = slots
        self.ids = _OneIdTexts(self.sql, slots, stand_ins)
        self.locks = bool(queryset.query.select_for_update)
        self.model = compiler.klass_info["model"]
        select = compiler.select
        fields = compiler.klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.populators = get_related_populators(compiler.klass_info, select, connection.alias)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.compiler = compiler
        self.converters = compiler.get_converters([column[0] for column in select[: compiler.col_count]])

    def run(self, args: Sequence[Any]) -> list[Model]:
        if self.locks and self.connection.get_autocommit():
            raise TransactionManagementError("select_for_update cannot be used outside of a transaction.")
        params = [constant if index is None else _argument(args[index]) for index, constant in self.slots]
        sql, params = self.ids.text(params)
        with prepared_cursor(self.connection.alias) as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = self.compiler.apply_converters(rows, self.converters)
        db, model, start, end, init_list = self.connection.alias, self.model, self.start, self.end, self.init_list
        objects = []
        for row in rows:
            obj = model.from_db(db, init_list, row[start:end])
            for populator in self.populators:
                populator.populate(row, obj)
            for name, position in self.annotations.items():
                setattr(obj, name, row[position])
            objects.append(obj)
        return objects


def _argument(value: Any) -> Any:
    if value is None or isinstance(value, bool):
        raise TypeError(f"{value!r} cannot be a compiled query's argument")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return value


class CompiledSelect:
    """A SELECT of one shape, `build(*arguments)` (a queryset of model instances), whose SQL is built once per
    process and connection on PostgreSQL. `run(*arguments)` returns the list `list(build(*arguments))` would, from the
    database the router would send the queryset to (a locking one is a write: the primary).

    `with_`, only where statements are built (`statements_prepared`): a leading `WITH` clause for the statement,
    from the connection — its text, with a `%s` for each argument it takes, and those arguments' indexes (a
    data-modifying CTE whose rows the queryset reads by name, so that a write and the read of its answer take one
    round trip). Such a statement runs on the primary, in the caller's transaction or on its own."""

    def __init__(
        self, build: Callable[..., QuerySet], *, with_: Callable[[Any], tuple[str, Sequence[int]]] | None = None
    ) -> None:
        self.build = build
        self.with_ = with_
        self._routing: tuple[type[Model], bool] | None = None
        self._built: dict[str, _Built] = {}

    def run(self, *args: Any) -> list[Model]:
        for value in args:
            _argument(value)  # refused on every database alike, not only where the text is built
        if self._routing is None:
            sample = self.build(*[_stand_in(index, value) for index, value in enumerate(args)])
            self._routing = (sample.model, sample._for_write)
        model, for_write = self._routing
        using = router.db_for_write(model) if for_write or self.with_ else router.db_for_read(model)
        connection = connections[using]
        if not statements_prepared(using):
            if self.with_:
                raise TransactionManagementError("a leading WITH clause needs the compiled statement (PostgreSQL)")
            return list(self.build(*args).using(using))
        built = self._built.get(using)
        if built is None or built.connection is not connection:
            stand_ins = [_stand_in(index, value) for index, value in enumerate(args)]
            with_ = self.with_(connection) if self.with_ else None
            built = self._built[using] = _Built(self.build(*stand_ins).using(using), stand_ins, connection, with_)
        return built.run(args)


# --- UPDATEs ---------------------------------------------------------------------------------------------------------
# A value of one of these types is a parameter of the compiled text; None and booleans are part of its text (the ORM
# writes `= NULL` for None, and a boolean has no stand-in), as is arithmetic on the row's own columns with integer
# literals (`F("push_attempts") + 1`); anything else (another expression, a Decimal, JSON) is left to the ORM.
_UPDATE_PARAMETER_TYPES = (int, str, datetime)


def _fixed(value: Any) -> bool:
    """Whether an expression writes the same text and parameters every time: columns and integer literals."""
    if isinstance(value, F):
        return True
    if isinstance(value, Value):
        return isinstance(value.value, int) and not isinstance(value.value, bool)
    if isinstance(value, CombinedExpression):
        return _fixed(value.lhs) and _fixed(value.rhs)
    return False


def _update_shape(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...] | None:
    """The columns an UPDATE sets, in order, each with the type of its parameter, or the constant the text holds
    (None, True, False, a fixed expression); None when a value can only be written by the ORM."""
    shape = []
    for name, value in values.items():
        if value is None or isinstance(value, bool) or (hasattr(value, "resolve_expression") and _fixed(value)):
            shape.append((name, value))
        elif hasattr(value, "resolve_expression"):
            return None
        elif isinstance(value, _UPDATE_PARAMETER_TYPES):
            shape.append((name, type(value)))
        else:
            return None
    return tuple(shape)


class _BuiltUpdate:
    """One process's built UPDATE: its text, and where each argument and value goes among its parameters."""

    def __init__(self, queryset: QuerySet, stand_ins: list[Any], values: Mapping[str, Any], connection: Any) -> None:
        stand_ins = list(stand_ins)
        shape = _update_shape(values) or ()
        self.names = [name for name, kind in shape if isinstance(kind, type)]
        self.fields = [queryset.model._meta.get_field(name) for name in self.names]
        built_values = {}
        for name, kind in shape:
            if isinstance(kind, type):
                built_values[name] = _stand_in(len(stand_ins), values[name])
                stand_ins.append(built_values[name])
            else:
                built_values[name] = kind
        query = queryset.query.chain(UpdateQuery)
        query.add_update_values(built_values)
        query.annotations = {}
        compiler = query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        sql, slots = _inline(sql, _slots(params, stand_ins))
        self.connection = connection
        self.sql = sql
        self.slots = slots
        self.ids = _OneIdTexts(sql, slots, stand_ins)

    def run(self, args: Sequence[Any], values: Mapping[str, Any]) -> int:
        sql, params = self.ids.text(self.params(args, values))
        with transaction.mark_for_rollback_on_error(using=self.connection.alias):  # as QuerySet.update
            with prepared_cursor(self.connection.alias) as cursor:
                cursor.execute(sql, params)
                return cursor.rowcount

    def run_then(
        self, args: Sequence[Any], values: Mapping[str, Any], then: str, then_params: Sequence[Any]
    ) -> tuple[int, list[tuple]]:
        """The UPDATE and the read `then` in one statement: the UPDATE a WITH clause, the read's rows each after the
        count of rows the UPDATE moved (one row with the count and NULLs when the read finds none), in its order
        (a nested loop over one row keeps it)."""
        update, params = self.ids.text(self.params(args, values))
        sql = (
            f"WITH updated AS ({update} RETURNING 1) "  # noqa: S608 - built texts, parameters apart
            "SELECT (SELECT count(*) FROM updated), after.* FROM (SELECT 1) AS one "
            f"LEFT JOIN LATERAL ({then}) AS after ON true"
        )
        with transaction.mark_for_rollback_on_error(using=self.connection.alias):
            with prepared_cursor(self.connection.alias) as cursor:
                cursor.execute(sql, [*params, *then_params])
                rows = cursor.fetchall()
        return rows[0][0], [row[1:] for row in rows if any(value is not None for value in row[1:])]

    def params(self, args: Sequence[Any], values: Mapping[str, Any]) -> list[Any]:
        connection = self.connection
        # Each value as the ORM's UPDATE prepares it for its column.
        given = [_argument(value) for value in args] + [
            field.get_db_prep_save(values[name], connection=connection)
            for name, field in zip(self.names, self.fields, strict=True)
        ]
        return [constant if index is None else given[index] for index, constant in self.slots]


class CompiledUpdate:
    """An UPDATE of the rows `build(*arguments)` selects (a queryset filtered by the arguments, as for
    `CompiledSelect`), setting plain values: on PostgreSQL its text is built once per process and connection for each
    set of columns (in the order given; a None or a boolean is part of the text), and run prepared. `run(values,
    *arguments)` returns the count `build(*arguments).update(**values)` would, and runs exactly that — the ORM — for a
    value it cannot pass as a parameter (an expression, a Decimal, JSON), on SQLite, or with prepared statements off.
    Each value is prepared for its column as the ORM's UPDATE prepares it (`get_db_prep_save`)."""

    def __init__(self, build: Callable[..., QuerySet]) -> None:
        self.build = build
        self._model: type[Model] | None = None
        self._built: dict[tuple[str, tuple], _BuiltUpdate] = {}

    def run(self, values: Mapping[str, Any], *args: Any) -> int:
        built, using = self._get(values, args)
        if built is None:
            return self.build(*args).using(using).update(**values)
        return built.run(args, values)

    def run_then(
        self, values: Mapping[str, Any], *args: Any, then: str, then_params: Sequence[Any]
    ) -> tuple[int, list[tuple] | None]:
        """`run`, and the read `then` (PostgreSQL's text, its parameters `%s`) in the same statement, so the pair
        costs one round trip: the count, and the read's rows. The read sees the database as the statement began (not
        the UPDATE's rows: it must not read the updated table's moved rows). Where the UPDATE is the ORM's, the count
        and None: the caller reads by itself."""
        built, using = self._get(values, args)
        if built is None:
            return self.build(*args).using(using).update(**values), None
        return built.run_then(args, values, then, then_params)

    def _get(self, values: Mapping[str, Any], args: Sequence[Any]) -> tuple[_BuiltUpdate | None, str]:
        """The built statement for these columns (None where the ORM runs the UPDATE), and the database."""
        for value in args:
            _argument(value)
        if self._model is None:
            self._model = self.build(*[_stand_in(index, value) for index, value in enumerate(args)]).model
        using = router.db_for_write(self._model)
        connection = connections[using]
        shape = _update_shape(values)
        if shape is None or not statements_prepared(using):
            return None, using
        key = (using, shape)
        built = self._built.get(key)
        if built is None or built.connection is not connection:
            stand_ins = [_stand_in(index, value) for index, value in enumerate(args)]
            built = self._built[key] = _BuiltUpdate(self.build(*stand_ins).using(using), stand_ins, values, connection)
        return built, using
