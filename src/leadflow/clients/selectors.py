"""Reads of clients shared by the API and the UI: search, the API shape, the timeline."""

from __future__ import annotations

from django.db.models import Q

from leadflow.clients.models import Client, ClientQuerySet
from leadflow.core.pagination import Ordering, paginate
from leadflow.crm.selectors import TIMELINE_ORDER
from leadflow.timeline.models import TimelineEvent

CLIENT_ORDERINGS = {
    "-created_at": Ordering("created_at", True, kind="datetime"),
    "created_at": Ordering("created_at", False, kind="datetime"),
    "name": Ordering("name", False),
}


def search_clients(qs: ClientQuerySet, q: str | None) -> ClientQuerySet:
    """`q` as DESIGN §4 reads it for clients: all digits → id; with `@` → e-mail prefix;
    otherwise a word prefix of the name or the company."""
    q = (q or "").strip()
    if not q:
        return qs
    if q.isdigit():
        return qs.filter(pk=int(q)) if len(q) < 19 else qs.none()
    if "@" in q:
        return qs.filter(email_key__startswith=q.casefold())
    return qs.filter(
        Q(name__istartswith=q) | Q(name__icontains=f" {q}")
        | Q(company__istartswith=q) | Q(company__icontains=f" {q}")
    )


def client_out(client: Client, lead_ids: list[int] | None = None) -> dict:
    """The API shape of a client (DESIGN §4, plus `updated_at`)."""
    if lead_ids is None:
        lead_ids = list(client.leads.order_by("pk").values_list("pk", flat=True))
    return {
        "id": client.pk,
        "project": client.project_id,
        "name": client.name,
        "email": client.email,
        "phones": client.phones,
        "company": client.company,
        "owner": client.owner_id,
        "source": client.source_id,
        "bucket_label": client.bucket_label,
        "affiliate_id": client.affiliate_id,
        "leads": lead_ids,
        "created_at": client.created_at,
        "updated_at": client.updated_at,
    }


def clients_out(clients: list[Client]) -> list[dict]:
    """Many clients with their lead ids read in one query."""
    from leadflow.crm.models import Lead

    ids: dict[int, list[int]] = {c.pk: [] for c in clients}
    rows = Lead.objects.filter(client_id__in=list(ids)).order_by("pk")
    for lead_id, client_id in rows.values_list("pk", "client_id"):
        ids[client_id].append(lead_id)
    return [client_out(c, ids[c.pk]) for c in clients]


def client_timeline(client: Client, *, limit: int, cursor: str | None):
    """The client's events newest first, in keyset pages."""
    events = TimelineEvent.objects.filter(client_id=client.pk)
    return paginate(events, TIMELINE_ORDER, limit=limit, cursor=cursor)


def list_clients(qs: ClientQuerySet, *, q=None, project=None, owner=None,
                 ordering: str = "-created_at", limit: int, cursor: str | None):
    if project is not None:
        qs = qs.filter(project_id=project)
    if owner is not None:
        qs = qs.filter(owner_id=owner)
    return paginate(search_clients(qs, q), CLIENT_ORDERINGS[ordering], limit=limit, cursor=cursor)
