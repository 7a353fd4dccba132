"""Helpers shared by the app routers."""

from __future__ import annotations

from datetime import datetime

from leadflow.core.actor import Actor

ERRORS = {400: dict, 401: dict, 403: dict, 404: dict, 409: dict, 413: dict}


def actor_of(request) -> Actor:
    return Actor(request.auth, getattr(request, "channel", "api"))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def responses(status: int, schema, *errors: int) -> dict:
    """A route's documented answers: its success and the error codes it can give."""
    out = {status: schema}
    for code in errors or (400, 401, 403, 404):
        out[code] = dict
    return out
