"""The only writers of timeline events: record(), record_many() and scrub()."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from itertools import islice
from types import SimpleNamespace
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.core.db import copy_rows, copy_text, insert_rows, insert_tuples
from leadflow.timeline.models import TimelineEvent, TimelineKind

# Fields that carry personal data and are blanked when a lead is deleted: contact values, the
# keys a duplicate registration matched on (e-mail, phones) and the client's name on conversion.
PERSONAL_FIELDS = ("name", "email", "phones", "company", "custom", "phone", "matched",
                   "client_name")


def _values(
    kind: TimelineKind,
    *,
    actor: Actor,
    lead=None,
    client=None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    reason: str = "",
    batch_id: uuid.UUID | None = None,
    occurred_at=None,
    label: str | None = None,
) -> dict[str, Any]:
    """An event's field values by attribute name."""
    subject = lead if lead is not None else client
    user = actor.user
    return {
        "occurred_at": occurred_at or timezone.now(),
        "kind": kind,
        "actor_id": user.pk if user is not None else None,
        "actor_label": user.email if user is not None else "system",
        "channel": actor.channel,
        "project_id": getattr(subject, "project_id", None),
        "lead_id": lead.pk if lead is not None else None,
        "client_id": client.pk if client is not None else None,
        "subject_label": (getattr(subject, "name", "") if label is None else label)[:200],
        "before": before or None,
        "after": after or None,
        "reason": reason or "",
        "batch_id": batch_id,
        "scrubbed": False,
    }


def record(kind: TimelineKind, **kwargs) -> TimelineEvent:
    """Write one event. Must run inside the transaction of the change it describes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("timeline.record() must be called inside the service's transaction")
    event = TimelineEvent(**_values(kind, **kwargs))
    event.save()
    return event


def record_many(events: Iterable[dict[str, Any]]) -> None:
    """Write many events at once (each dict holds record()'s arguments, with `kind`), without
    a model instance each (their field values are all an INSERT reads)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("timeline.record_many() must be called inside a transaction")
    rows = [SimpleNamespace(**_values(e.pop("kind"), **e)) for e in (dict(e) for e in events)]
    insert_rows(TimelineEvent, rows)


def record_for_leads(kind: TimelineKind, rows: Iterable[tuple], *, actor: Actor,
                     reason: str = "", batch_id: uuid.UUID | None = None,
                     occurred_at=None) -> int:
    """Write one event of `kind` per lead, for set-based sweeps over many thousands of leads:
    `rows` are (lead id, project id, subject label, before, after). A before/after dict shared
    by several rows (the same object) is encoded once, and rows go in through `insert_tuples`
    (COPY on PostgreSQL), so a hundred thousand events take a second, not a minute.
    Returns how many were written."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("timeline.record_for_leads() must be called inside a transaction")
    meta = TimelineEvent._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    user = actor.user
    common = {
        "occurred_at": occurred_at or timezone.now(), "kind": kind,
        "actor_id": user.pk if user is not None else None,
        "actor_label": user.email if user is not None else "system", "channel": actor.channel,
        "client_id": None, "reason": reason or "", "batch_id": batch_id, "scrubbed": False,
    }
    prepared = {f.attname: f.get_db_prep_save(common[f.attname], connection)
                for f in fields if f.attname in common}
    json_field = meta.get_field("before")
    encoded: dict[int, Any] = {}

    def encode(value):
        if not value:
            return None
        key = id(value)
        if key not in encoded:
            encoded[key] = json_field.get_db_prep_save(value, connection)
        return encoded[key]

    order = [f.attname for f in fields]
    if connection.vendor == "postgresql":
        return _copy_events(meta.db_table, [f.column for f in fields], order, prepared, rows,
                            encode)
    batch = []
    for lead_id, project_id, label, before, after in rows:
        values = {**prepared, "project_id": project_id, "lead_id": lead_id,
                  "subject_label": (label or "")[:200], "before": encode(before),
                  "after": encode(after)}
        batch.append([values[name] for name in order])
    insert_tuples(TimelineEvent, order, batch)
    return len(batch)


def _copy_events(table: str, columns: list[str], order: list[str], prepared: dict, rows,
                 encode) -> int:
    """record_for_leads() on PostgreSQL: the rows stream in through COPY, which costs a
    fraction of multi-row INSERTs whose thousands of parameters psycopg would bind in Python.
    JSON values go in as their text, which the jsonb columns parse. `rows` may be a lazy
    query: it is read COPY_ROWS at a time between COPYs, never while one holds the
    connection."""
    written = 0
    rows = iter(rows)
    texts: dict[int, Any] = {}  # a dict shared by many rows becomes text once

    def text(value):
        key = id(value)
        if key not in texts:
            texts[key] = copy_text(encode(value))
        return texts[key]

    template = [prepared.get(name) for name in order]
    at = {name: order.index(name)
          for name in ("project_id", "lead_id", "subject_label", "before", "after")}

    def values(lead_id, project_id, label, before, after) -> list:
        row = template.copy()
        row[at["project_id"]], row[at["lead_id"]] = project_id, lead_id
        row[at["subject_label"]] = (label or "")[:200]
        row[at["before"]], row[at["after"]] = text(before), text(after)
        return row

    while chunk := list(islice(rows, COPY_ROWS)):
        copy_rows(table, columns, (values(*row) for row in chunk))
        written += len(chunk)
    return written


COPY_ROWS = 5000


def _scrub_values(values: dict | None) -> dict | None:
    if not values:
        return values
    return {k: (None if k in PERSONAL_FIELDS else v) for k, v in values.items()}


def scrub(lead_id: int) -> int:
    """Blank the personal data in a lead's events (never delete them). Returns events scrubbed."""
    return _scrub_events(Q(lead_id=lead_id))


def scrub_client(client_id: int) -> int:
    """Blank the personal data in a client's events (never delete them), as scrub() does for a
    lead's, when the client's person is erased. Returns events scrubbed."""
    return _scrub_events(Q(client_id=client_id))


def _scrub_events(subject: Q) -> int:
    count = 0
    for event in TimelineEvent.objects.filter(subject, scrubbed=False).iterator():
        event.before = _scrub_values(event.before)
        event.after = _scrub_values(event.after)
        event.subject_label = ""
        event.reason = ""
        event.scrubbed = True
        fields = ["before", "after", "subject_label", "reason", "scrubbed"]
        event.save(_scrub=True, update_fields=fields)
        count += 1
    return count
