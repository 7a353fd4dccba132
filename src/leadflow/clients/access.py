"""Object-level access to clients, like leads': a client that exists but is not visible is
NotFound; visible but not allowed is PermissionDenied."""

from __future__ import annotations

from typing import Literal

from leadflow.accounts.access import is_manager
from leadflow.clients.models import Client, ClientQuerySet
from leadflow.core.actor import Actor
from leadflow.core.errors import NotFound, PermissionDenied

ClientAction = Literal["view", "change", "manage"]


def clients_visible_to(actor: Actor) -> ClientQuerySet:
    if actor.user is None:
        return Client.objects.all()
    return Client.objects.visible_to(actor.user)


def can_client(actor: Actor, client: Client, action: ClientAction) -> bool:
    """Managers do everything; the owner sees and edits contact fields; others only see."""
    if is_manager(actor, client.project_id):
        return True
    if action == "manage":
        return False
    if action == "view":
        return True
    return actor.user is not None and client.owner_id == actor.user.pk


def get_client_for(actor: Actor, client_id, action: ClientAction = "view") -> Client:
    client = None
    if isinstance(client_id, int):
        client = clients_visible_to(actor).select_related("project", "owner", "source").filter(
            pk=client_id).first()
    if client is None:
        raise NotFound("Client not found.")
    check_client_action(actor, client, action)
    return client


def check_client_action(actor: Actor, client: Client, action: ClientAction) -> None:
    if not can_client(actor, client, action):
        messages = {
            "change": "Only the client's owner or a manager may change it.",
            "manage": "Only a manager may do this.",
        }
        raise PermissionDenied(messages.get(action, "Not allowed."))
