"""Set-based writes the ORM makes slow."""

from __future__ import annotations

from django.db import connection


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
    params = [
        [f.get_db_prep_save(getattr(row, f.attname), connection) for f in columns] + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def insert_rows(model, objs: list) -> None:
    """Insert many new rows whose ids nobody needs back, with one prepared INSERT run for each
    (executemany): several times faster than bulk_create's statement building for big batches.
    Model defaults apply as usual (they are set when the objects are built)."""
    if not objs:
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES ({', '.join(['%s'] * len(fields))})"
    )
    params = [[f.get_db_prep_save(getattr(obj, f.attname), connection) for f in fields]
              for obj in objs]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


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
