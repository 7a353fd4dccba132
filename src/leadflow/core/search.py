"""Prefix matching that an index can serve on SQLite and PostgreSQL alike."""

from django.db import connection
from django.db.models import F, Lookup, Q, QuerySet, Subquery

_TOP = "\U0010ffff"


def prefix_q(field: str, prefix: str) -> Q:
    """`field` starts with `prefix` (already normalized to the column's form).

    SQLite compares with BINARY collation, so a half-open range is an exact prefix test that
    seeks the plain index. PostgreSQL's locale collation makes such a range inexact, so there
    LIKE 'p%' is used, served by the column's text_pattern_ops index.
    """
    if connection.vendor == "postgresql":
        return Q(**{f"{field}__startswith": prefix})
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": prefix + _TOP})


class _AnyOfSubquery(Lookup):
    """`lhs = ANY(ARRAY(subquery))` (PostgreSQL)."""

    lookup_name = "any_of_subquery"

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = compiler.compile(self.rhs)
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


def fetch_ids_q(field: str, ids: QuerySet) -> Q:
    """`field` is among the values of the one-column queryset `ids`, planned as: read the ids,
    then fetch their rows by `field`'s index.

    PostgreSQL turns `IN (subquery)` into a join that it plans on its estimate of the ids, which
    for a prefix can be off 15 times either way (and then walks a million-row index for 1,400
    matches); `= ANY(ARRAY(subquery))` is computed once and always fetched through the index.
    SQLite, given statistics, fetches the rows of an IN list by itself.
    """
    if connection.vendor == "postgresql":
        return Q(_AnyOfSubquery(F(field), Subquery(ids)))
    return Q(**{f"{field}__in": ids})


def walk_ids_q(field: str, ids: QuerySet) -> Q:
    """`field` is among the values of `ids`, tested row by row while the query walks its
    ordering index: the ids are collected once, into a hash (PostgreSQL) or a list (SQLite).

    `OR field IS NULL` is never true for a key; it keeps both planners from driving the query by
    the subquery (PostgreSQL would make it a join, SQLite would fetch by it). Use it only where
    the walk is known to be short and the ids few enough to hash in memory."""
    return Q(**{f"{field}__in": ids}) | Q(**{f"{field}__isnull": True})
