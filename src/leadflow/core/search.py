"""Prefix matching that an index can serve on SQLite and PostgreSQL alike."""

from django.db import connection
from django.db.models import Q

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
