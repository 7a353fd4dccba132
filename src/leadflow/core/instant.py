"""Points in time as the databases take them."""

from __future__ import annotations

from datetime import UTC, datetime


def as_utc(value: datetime) -> datetime:
    """`value` in UTC (a naive one is read as UTC, the install's time zone). Python reads
    offsets up to ±23:59 but PostgreSQL refuses those beyond ±15:59, so every input time is
    converted before a query sees it. ValueError when the time in UTC is outside the years
    1–9999."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("The time is outside the years 1 to 9999 in UTC.") from None
