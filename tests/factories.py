"""Test factories: plain functions; stateful objects are built through services."""

from __future__ import annotations

import itertools

from leadflow.accounts import services as account_services
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.crm import services as crm_services
from leadflow.crm.contact import LeadInput
from leadflow.projects import services as project_services
from leadflow.projects.models import Project

SYSTEM = Actor(None, "cli")
_seq = itertools.count(1)


def make_project(name: str | None = None, **kwargs) -> Project:
    n = next(_seq)
    return project_services.create_project(name or f"Project {n}", actor=SYSTEM, **kwargs)


def make_user(project: Project | None = None, role: str | None = None, *, email=None,
              admin: bool = False, password: str = "password123", **grants) -> User:
    n = next(_seq)
    user = account_services.create_user(
        email or f"user{n}@example.com", actor=SYSTEM, name=f"User {n}", password=password,
        is_admin=admin,
    )
    if project is not None and role is not None:
        account_services.set_membership(user, project, role, actor=SYSTEM, grants=grants or None)
    return user


def make_lead(project: Project, *, owner: User | None = None, actor: Actor | None = None,
              **fields):
    """A lead created through the create_lead service (by a system actor unless given)."""
    n = next(_seq)
    data = LeadInput(
        name=fields.pop("name", f"Lead {n}"),
        email=fields.pop("email", f"lead{n}@example.com"),
        phones=fields.pop("phones", None),
        company=fields.pop("company", None),
        **fields,
    )
    result = crm_services.create_lead(project, data, actor=actor or SYSTEM, owner=owner)
    return result.lead


def token_for(user: User) -> str:
    return account_services.issue_token(user, actor=SYSTEM)


def auth(user: User) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token_for(user)}"}
