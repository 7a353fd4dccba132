"""Keyset pagination: no COUNT, a cursor that encodes the last row's sort key and id."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import F, Q, QuerySet

from leadflow.core.errors import ValidationFailed
from leadflow.core.instant import as_utc

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True)
class Ordering:
    field: str
    descending: bool
    nullable: bool = False
    kind: str = "str"  # "datetime" or "str"


def encode_cursor(values: list[Any]) -> str:
    raw = json.dumps(values, separators=(",", ":"), default=str).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):
        raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
    if not isinstance(values, list) or len(values) != 3:
        raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
    return values


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed.one("limit", "out_of_range", f"limit must be 1 to {MAX_LIMIT}.")
    return limit


def _parse_value(value: Any, ordering: Ordering) -> Any:
    if value is None:
        return None
    if ordering.kind == "datetime":
        try:
            return as_utc(datetime.fromisoformat(value))
        except (TypeError, ValueError):
            raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
    if not isinstance(value, str):
        raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
    return value


def _after(ordering: Ordering, is_null: bool, value: Any, pk: int) -> Q:
    """Rows strictly after (value, pk) in the ordering; nulls sort last either way.

    Written as `f <= v AND (f < v OR id < pk)` rather than an OR of two branches, so the leading
    range condition lets both SQLite and PostgreSQL seek the (field, id) index.
    """
    f, desc = ordering.field, ordering.descending
    id_after = Q(pk__lt=pk) if desc else Q(pk__gt=pk)
    if is_null:
        return Q(**{f"{f}__isnull": True}) & id_after
    cmp, strict = ("lte", "lt") if desc else ("gte", "gt")
    after = Q(**{f"{f}__{cmp}": value}) & (Q(**{f"{f}__{strict}": value}) | id_after)
    if ordering.nullable:
        after |= Q(**{f"{f}__isnull": True})
    return after


def paginate(
    qs: QuerySet, ordering: Ordering, *, limit: int, cursor: str | None
) -> tuple[list, str | None]:
    """One page of `qs` in `ordering` (id as the tie-breaker) and the cursor of the next page."""
    f = ordering.field
    if cursor:
        is_null, value, pk = decode_cursor(cursor)
        if not isinstance(pk, int) or not -(2**63) <= pk < 2**63:
            raise ValidationFailed.one("cursor", "invalid", "Cursor is not valid.")
        qs = qs.filter(_after(ordering, bool(is_null), _parse_value(value, ordering), pk))
    if ordering.descending:
        order = [F(f).desc(nulls_last=True) if ordering.nullable else F(f).desc(), "-pk"]
    else:
        order = [F(f).asc(nulls_last=True) if ordering.nullable else F(f).asc(), "pk"]
    rows = list(qs.order_by(*order)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        last = rows[-1]
        value = getattr(last, f)
        if isinstance(value, datetime):
            value = value.isoformat()
        next_cursor = encode_cursor([value is None, value, last.pk])
    return rows, next_cursor
