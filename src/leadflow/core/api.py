"""Helpers shared by the app routers: authentication, route gates, answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from django.http import HttpRequest
from ninja.parser import Parser
from ninja.security import APIKeyCookie, HttpBearer
from pydantic import AfterValidator, Field

from leadflow.accounts.access import can_configure
from leadflow.accounts.services import authenticate_token, count_wrong_credential
from leadflow.core.actor import Actor
from leadflow.core.clientaddress import client_address
from leadflow.core.errors import PermissionDenied
from leadflow.core.instant import as_utc
from leadflow.core.text import check_query, check_storable

Gate = Callable[[object], None]

# An id the database can compare: SQLite raises OverflowError on integers beyond 64 bits.
DbId = Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
# A time any database compares: in UTC (PostgreSQL refuses offsets beyond ±15:59).
Instant = Annotated[datetime, AfterValidator(as_utc)]


class CheckedParser(Parser):
    """Ninja's parser, refusing text no database stores (NUL characters, lone surrogates) in
    every JSON body, query value and form field with a 400 naming the fields. Ninja wraps
    errors of `parse_body` in an HttpError whose cause is the ValidationFailed raised here;
    the API's HttpError handler answers the cause."""

    def parse_body(self, request: HttpRequest):
        data = super().parse_body(request)
        check_storable(data)
        return data

    def parse_querydict(self, data, list_fields, request: HttpRequest):
        check_query(data)
        return super().parse_querydict(data, list_fields, request)


class BearerAuth(HttpBearer):
    """`Authorization: Bearer <token>`; an optional gate refuses the user before the body
    is read. A wrong token is counted against the client's address: beyond the budget the
    answer is 429 with Retry-After instead of 401 (a correct token is never refused)."""

    def __init__(self, gate: Gate | None = None):
        super().__init__()
        self.gate = gate

    def authenticate(self, request: HttpRequest, token: str):
        user = authenticate_token(token)
        if user is not None:
            request.channel = "api"
            if self.gate is not None:
                self.gate(user)
        elif token:
            count_wrong_credential(client_address(request))
        return user


class SessionAuth(APIKeyCookie):
    """The UI's session; Ninja checks CSRF on unsafe methods for cookie auth."""

    param_name = "sessionid"

    def __init__(self, gate: Gate | None = None):
        super().__init__()
        self.gate = gate

    def authenticate(self, request: HttpRequest, key):
        if request.user.is_authenticated and request.user.is_active:
            request.channel = "ui"
            if self.gate is not None:
                self.gate(request.user)
            return request.user
        return None


def _admins(user) -> None:
    if not user.is_admin:
        raise PermissionDenied("Only an admin may do this.")


def _configurers(user) -> None:
    if not can_configure(user):
        raise PermissionDenied("Only managers and admins change configuration.")


def gated(gate: Gate) -> list:
    """Route auth for callers of a role only. Authentication runs before Ninja reads the
    body, so a caller who may not use the route at all gets 401/403 before any 400
    (DESIGN §4, order of checks); the services still check everything themselves."""
    return [BearerAuth(gate), SessionAuth(gate)]


ADMINS = gated(_admins)
CONFIGURERS = gated(_configurers)



def actor_of(request) -> Actor:
    return Actor(request.auth, getattr(request, "channel", "api"))


def responses(status: int, schema, *errors: int) -> dict:
    """A route's documented answers: its success and the error codes it can give."""
    out = {status: schema}
    for code in errors or (400, 401, 403, 404):
        out[code] = dict
    return out
