"""Set-based writes the ORM makes slow."""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Iterable
from contextlib import contextmanager
from datetime import UTC, datetime

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models import signals
from django.db.models.base import ModelState

# --- slices of the write lock ----------------------------------------------------------------


class Slices:
    """Batch sizes for bulk work that writes in many transactions. SQLite admits one writer at
    a time, so there each batch is sized to hold the write lock about `seconds`: a user's save
    then waits a fraction of a second at most behind an import or a sweep, on any machine. It
    starts at a tenth of `most` and follows the last batches' rows per second. Elsewhere (other
    writers wait only for the rows they share) every batch is `most` rows."""

    def __init__(self, most: int, *, seconds: float, least: int = 50):
        self.most, self.seconds, self.least = most, seconds, min(least, most)
        self.sqlite = connection.vendor == "sqlite"
        self.size = max(self.least, most // 10) if self.sqlite else most
        self.size = min(self.size, most)

    def wrote(self, rows: int, elapsed: float) -> None:
        """A batch of `rows` held the lock `elapsed` seconds."""
        if self.sqlite and rows:
            fitted = rows * self.seconds / max(elapsed, 0.001)
            self.size = int(min(self.most, max(self.least, (self.size + fitted) / 2)))


# --- prepared statements ---------------------------------------------------------------------


def fetch(sql: str, params) -> list[tuple]:
    """Run one statement of a fixed shape (built from model metadata, values as parameters)
    and return its rows, through `prepared_cursor()`."""
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


@contextmanager
def prepared_cursor():
    """A cursor for statements of a fixed shape run again and again (the hot writes of intake
    and the lookups beside them). On PostgreSQL: a cursor with server-side binding on the
    connection's own psycopg connection, whose statements are prepared on first use and then
    run without being parsed and planned again; Django's cursor binds every value into the
    text on the client and has the server plan each statement anew, which costs about three
    times as much on both sides. Errors are raised as Django's. Elsewhere Django's cursor."""
    conn = connections[DEFAULT_DB_ALIAS]  # once: each access through the proxy costs a lookup
    if conn.vendor != "postgresql":
        with conn.cursor() as cursor:
            yield cursor
        return
    conn.ensure_connection()
    with conn.wrap_database_errors, _PreparingCursor(conn.connection) as cursor:
        yield cursor


class _PreparingCursor(psycopg.Cursor):
    """psycopg's cursor with server-side binding, preparing every statement it runs (psycopg
    keeps up to 100 per connection, the least used dropped first)."""

    def execute(self, query, params=None, *, prepare=None, binary=None):
        return super().execute(query, params, prepare=True, binary=binary)


def update_rows(model, rows: list, fields: list[str]) -> None:
    """Write `fields` of many saved rows with one prepared UPDATE run for each row
    (executemany). Django's bulk_update builds a CASE per field over every row, which costs
    seconds for a thousand rows; the statement here is fixed and only values vary. Column
    names come from the model, never from input."""
    if not rows:
        return
    meta = model._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    prepare = _Preparer(columns).values
    params = [[*prepare(row), row.pk] for row in rows]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def update_sql(model, pk, values: dict, *, where: dict | None = None) -> tuple[str, list]:
    """The prepared UPDATE that sets `values` (field name → value) on the row `pk` when its
    fields equal `where`. Column names come from the model, never from input."""
    meta = model._meta
    quote = connection.ops.quote_name
    assigned = [(meta.get_field(name), value) for name, value in values.items()]
    tested = [(meta.get_field(name), value) for name, value in (where or {}).items()]
    sql = (
        f"UPDATE {quote(meta.db_table)} SET "
        f"{', '.join(f'{quote(f.column)} = %s' for f, _ in assigned)} "
        f"WHERE {' AND '.join(f'{quote(f.column)} = %s' for f, _ in [(meta.pk, pk), *tested])}"
    )
    params = [f.get_db_prep_save(_attvalue(f, v), connection) for f, v in assigned]
    params += [pk] + [f.get_db_prep_value(_attvalue(f, v), connection) for f, v in tested]
    return sql, params


def update_row(model, pk, values: dict, *, where: dict | None = None) -> int:
    """Set `values` on the row `pk` when its fields equal `where` (see update_sql), now;
    returns how many rows changed (0 or 1)."""
    with prepared_cursor() as cursor:
        cursor.execute(*update_sql(model, pk, values, where=where))
        return cursor.rowcount


# --- writes sent together ------------------------------------------------------------------

_pending = threading.local()


@contextmanager
def batched_writes():
    """Send the writes made inside the block through `write()` (inserts without ids back,
    updates and upserts whose row counts nobody reads) together when it ends without error:
    on PostgreSQL as one round trip (Django binds parameters on the client, and one execute
    then takes several statements), on SQLite one by one (in process, no round trip to
    save). A statement that fails raises there, inside the caller's transaction, as it would
    have where it was written. Nested blocks join the outermost. Nothing inside the block may
    read what it wrote."""
    if getattr(_pending, "items", None) is not None:
        yield
        return
    _pending.items = items = []
    try:
        yield
    finally:
        _pending.items = None
    _run(items)


def write(sql: str, params) -> None:
    """Run a write whose result nobody reads: now, or with the open `batched_writes()`."""
    items = getattr(_pending, "items", None)
    if items is None:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    else:
        items.append((sql, list(params), False))


def write_many(sql: str, rows: list) -> None:
    """Run one write for each of `rows` (executemany), now or with the open
    `batched_writes()`."""
    items = getattr(_pending, "items", None)
    if items is None:
        with prepared_cursor() as cursor:
            cursor.executemany(sql, rows)
    else:
        items.append((sql, rows, True))


def _run(items: list[tuple[str, list, bool]]) -> None:
    if not items:
        return
    if connection.vendor == "postgresql" and len(items) > 1:
        # One round trip: the prepared statements go out together in a pipeline.
        with prepared_cursor() as cursor, cursor.connection.pipeline():
            for sql, params, many in items:
                (cursor.executemany if many else cursor.execute)(sql, params)
        return
    with prepared_cursor() as cursor:
        for sql, params, many in items:
            (cursor.executemany if many else cursor.execute)(sql, params)


def _attvalue(field, value):
    """A related object given for a foreign key stands for its id."""
    if field.is_relation and value is not None and hasattr(value, "_meta"):
        return value.pk
    return value


# Parameters per statement: SQLite as built here takes 32,766, PostgreSQL 65,535.
MAX_PARAMS = 30_000


@functools.cache
def _columns(model) -> list:
    """The fields an INSERT writes: every concrete field but the primary key. Column names come
    from the model, never from input."""
    return [f for f in model._meta.concrete_fields if not f.primary_key]


# Statements and value plans are kept per list of fields, known by the fields' ids: fields live
# as long as their models, so an id never comes back for another field, and hashing the ids
# costs a fraction of hashing the fields themselves.
_statements: dict[tuple, str] = {}
_plans: dict[tuple, list] = {}


def _insert_sql(model, fields: list, rows: int, returning: bool) -> str:
    key = (model, rows, returning, *map(id, fields))
    sql = _statements.get(key)
    if sql is None:
        if len(_statements) > 1000:
            _statements.clear()
        sql = _statements[key] = _insert_sql_of(model, fields, rows, returning)
    return sql


def _insert_sql_of(model, fields: list, rows: int, returning: bool) -> str:
    quote = connection.ops.quote_name
    meta = model._meta
    one = f"({', '.join(['%s'] * len(fields))})"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([one] * rows)}"
    )
    if returning:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql


# Fields whose database value is the Python value itself when it has this type (or is None);
# any other value, and every other field (times, JSON, UUIDs), goes through the field's own
# preparation.
PLAIN_TYPES = ((models.CharField, str), (models.TextField, str), (models.BooleanField, bool),
               (models.IntegerField, int), (models.ForeignKey, int))
# Values prepared once per statement when rows share them (the same time, the same batch id).
SHARED_TYPES = (datetime, uuid.UUID)


def _plain_type(field):
    return next((t for cls, t in PLAIN_TYPES if isinstance(field, cls)), None)


def _plan(fields: list) -> list:
    key = tuple(map(id, fields))
    plan = _plans.get(key)
    if plan is None:
        plan = _plans[key] = [(f.attname, _plain_type(f), f, isinstance(f, models.JSONField))
                              for f in fields]
    return plan


class _Preparer:
    """Database values of model objects for one statement: None and plain values as they are,
    JSON encoded, shared times and ids prepared once, the rest by each field. Prepares against
    the connection itself, not through the per-thread proxy, which costs a lookup on every
    access."""

    def __init__(self, fields: list):
        self.conn = connections[DEFAULT_DB_ALIAS]
        self.plan = _plan(fields)
        self.shared: dict = {}

    def values(self, obj) -> list:
        values = []
        for attname, plain, field, json_field in self.plan:
            value = getattr(obj, attname)
            if value is None or type(value) is plain:  # None is NULL, JSON fields' too
                values.append(value)
            elif json_field:  # what the field's preparation comes to, without its calls
                values.append(self.conn.ops.adapt_json_value(value, field.encoder))
            elif type(value) in SHARED_TYPES:
                key = (attname, value)
                if key not in self.shared:
                    self.shared[key] = field.get_db_prep_save(value, self.conn)
                values.append(self.shared[key])
            else:
                values.append(field.get_db_prep_save(value, self.conn))
        return values


_builds: dict = {}


def build(model, **values):
    """A new, unsaved `model` with `values` (by attribute name: a related row by its id) and
    every other field at its default: what `model(**values)` makes. Without listeners to the
    model's init signals, the fields are set straight into the object (the constructor matches
    every field to the keywords, runs descriptors and sends two signals: about five times the
    cost); otherwise through the constructor's positional path."""
    plan = _builds.get(model)
    if plan is None:
        fields = model._meta.concrete_fields
        plan = _builds[model] = (frozenset(f.attname for f in fields),
                                 [(f.attname, f.get_default) for f in fields])
    names, defaults = plan
    if not names.issuperset(values):
        raise TypeError(f"{model.__name__} has no field {sorted(set(values) - names)}")
    row = [(attname, values[attname] if attname in values else default())
           for attname, default in defaults]
    if signals.pre_init.has_listeners(model) or signals.post_init.has_listeners(model):
        return model(*[value for _attname, value in row])
    obj = model.__new__(model)
    obj._state = ModelState()
    obj.__dict__.update(row)
    return obj


def _values(fields: list, obj) -> list:
    return _Preparer(fields).values(obj)


def _saved(objs: list, pks) -> None:
    for obj, pk in zip(objs, pks, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert_row(model, obj) -> None:
    """Insert one new row with a single prepared statement and give `obj` its id (INSERT …
    RETURNING): what `save(force_insert=True)` does, without the ORM's statement building.
    Model defaults apply as usual (they are set when the object is built); `save()` overrides
    and signals do not run."""
    fields = _columns(model)
    _saved([obj], [fetch(_insert_sql(model, fields, 1, True), _values(fields, obj))[0][0]])


def insert_rows(model, objs: list, *, returning: bool = False) -> None:
    """Insert many new rows. With `returning`, each object gets its id, in input order, as
    `bulk_create` assigns them. SQLite runs one prepared single-row INSERT for every row
    (executemany): a multi-row INSERT of thousands of parameters costs more to compile than
    to run, and each size is a statement of its own; inside a transaction the ids come from
    the table first (the transaction holds the write lock), outside one from multi-row
    INSERT … RETURNING. PostgreSQL runs one prepared INSERT per row in a pipeline
    (executemany) — psycopg composes a statement of thousands of parameters in Python, which
    costs more than the round trips it saves — or, for ids, COPY with ids from the sequence;
    inside `batched_writes()` the rows go with the batch."""
    if not objs:
        return
    fields = _columns(model)
    prepare = _Preparer(fields).values
    sqlite = connection.vendor == "sqlite"
    if not returning and sqlite:
        write_many(_insert_sql(model, fields, 1, False), [prepare(obj) for obj in objs])
        return
    if not returning and getattr(_pending, "items", None) is not None:
        per_statement = max(1, MAX_PARAMS // len(fields))
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            write(_insert_sql(model, fields, len(chunk), False),
                  [value for obj in chunk for value in prepare(obj)])
        return
    if returning and connection.vendor == "postgresql" and len(objs) >= COPY_MIN_ROWS:
        _copy_with_ids(model, fields, objs, prepare)
        return
    if (returning and sqlite and len(objs) > 1 and connection.in_atomic_block
            and isinstance(model._meta.pk, models.AutoField)):
        _insert_with_ids(model, fields, objs, prepare)
        return
    with connection.cursor() as cursor:
        if not returning and connection.vendor == "postgresql" and len(objs) > 1:
            cursor.executemany(_insert_sql(model, fields, 1, False), [prepare(o) for o in objs])
            return
        per_statement = max(1, MAX_PARAMS // len(fields))
        for start in range(0, len(objs), per_statement):
            chunk = objs[start:start + per_statement]
            params = [value for obj in chunk for value in prepare(obj)]
            cursor.execute(_insert_sql(model, fields, len(chunk), returning), params)
            if returning:
                _saved(chunk, [row[0] for row in cursor.fetchall()])


def _insert_with_ids(model, fields: list, objs: list, prepare) -> None:
    """SQLite inside a transaction (which holds the database's write lock from its start,
    `BEGIN IMMEDIATE`): ids after the highest the table has given (its AUTOINCREMENT
    counter or its largest id), then one prepared INSERT per row with them. Rows still
    pending in `batched_writes()` take theirs after these when the block ends."""
    meta = model._meta
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f"COALESCE((SELECT MAX({quote(meta.pk.column)}) FROM {quote(meta.db_table)}), 0))",
            [meta.db_table])
        last = cursor.fetchone()[0]
    pks = range(last + 1, last + 1 + len(objs))
    with prepared_cursor() as cursor:
        cursor.executemany(_insert_sql(model, [meta.pk, *fields], 1, False),
                           [[pk, *prepare(obj)] for pk, obj in zip(pks, objs, strict=True)])
    _saved(objs, pks)


def insert_tuples(model, attnames: list[str], rows: list[tuple]) -> None:
    """Insert many new rows given as tuples of database-ready values (ints, strings,
    booleans, None: nothing is prepared) for `attnames`, which must name every column an
    INSERT of the model writes: the cheapest way in for narrow tables that take many rows per
    lead (keys, search words), with no model instance per row. SQLite runs one prepared INSERT
    per row (executemany); PostgreSQL takes COPY (its errors raised as Django's, so a unique
    violation is an IntegrityError as with INSERT); inside `batched_writes()` the rows go
    with the batch."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in attnames]
    missing = {f.attname for f in _columns(model)} - {f.attname for f in fields}
    if missing:
        raise ValueError(f"insert_tuples() needs every column of {model.__name__}: {missing}")
    if connection.vendor == "sqlite":
        write_many(_insert_sql(model, fields, 1, False), rows)
        return
    if getattr(_pending, "items", None) is None:
        copy_rows(model._meta.db_table, [f.column for f in fields], rows)
        return
    per_statement = max(1, MAX_PARAMS // len(fields))
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        write(_insert_sql(model, fields, len(chunk), False),
              [value for row in chunk for value in row])


def checkpoint() -> None:
    """SQLite: copy the committed log into the database file now, without waiting for
    readers (PASSIVE); after the transaction when one is open. Elsewhere nothing."""
    if connection.vendor != "sqlite":
        return
    if connection.in_atomic_block:
        transaction.on_commit(_checkpoint_now)
    else:
        _checkpoint_now()


def _checkpoint_now() -> None:
    if connection.in_atomic_block:  # still inside an outer transaction (a test's): not now
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")


# From this many rows on, PostgreSQL takes new rows whose ids are needed through COPY.
COPY_MIN_ROWS = 100


def _copy_with_ids(model, fields: list, objs: list, prepare) -> None:
    """PostgreSQL: take the new rows' ids from the table's sequence in one statement, then
    send the rows with them through COPY — far cheaper than multi-row INSERTs whose thousands
    of parameters psycopg binds in Python. Errors are raised as Django's (IntegrityError)."""
    meta = model._meta
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) "
                       "FROM generate_series(1, %s)", [meta.db_table, meta.pk.column, len(objs)])
        pks = [row[0] for row in cursor.fetchall()]
    copy_rows(meta.db_table, [f.column for f in [meta.pk, *fields]],
              ([pk, *(copy_text(value) for value in prepare(obj))]
               for pk, obj in zip(pks, objs, strict=True)))
    _saved(objs, pks)


def copy_rows(table: str, columns: list[str], rows: Iterable) -> None:
    """PostgreSQL: send `rows` (sequences of values for `columns`, as COPY takes them: see
    `copy_text`) into `table` through one COPY. Errors are raised as Django's, so a unique
    violation is an IntegrityError as with INSERT. `rows` must not query the database: the
    COPY holds the connection while it reads them."""
    quote = connection.ops.quote_name
    sql = f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN"
    with (connection.cursor() as cursor, connection.wrap_database_errors,
          cursor.cursor.copy(sql) as copy):
        for row in rows:
            copy.write_row(row)


def copy_text(value):
    """A prepared value as COPY takes it: JSON as its text (psycopg's Jsonb wrapper holds the
    object and the dumps function Django gave it), anything else as it is."""
    if not hasattr(value, "obj"):
        return value
    return (getattr(value, "dumps", None) or json.dumps)(value.obj)


def naive_utc(value):
    """A time as naive UTC: how SQLite gives a column back to a raw query, and comparable on
    both engines."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def json_value(value):
    """A JSON column as a raw query gives it back: text on SQLite, parsed on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def optimize_database() -> None:
    """Keep the planner's statistics current. SQLite plans only as well as its statistics,
    which nothing gathers by itself: without them the first page of a million leads sorts the
    whole table. With `analysis_limit` ANALYZE samples a few hundred rows of each index, which
    takes milliseconds at a million leads, so it is cheap to repeat. PostgreSQL's autovacuum
    keeps its own statistics."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=400")
            cursor.execute("ANALYZE")
