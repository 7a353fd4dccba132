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


# --- configuration look-ups and small helpers --------------------------------------------------


def stage_named(project: Project, name: str):
    from leadflow.projects.models import Stage

    return Stage.objects.get(project=project, name=name)


def source_named(project: Project, name: str):
    from leadflow.projects.models import Source

    return Source.objects.get(project=project, name=name)


def default_pool(project: Project):
    from leadflow.projects.models import Pool

    return Pool.objects.get(project=project, is_default=True)


def as_actor(user: User | None, channel: str = "api") -> Actor:
    return Actor(user, channel)


def set_claim(lead, user: User | None, until) -> None:
    """Give `lead` a claim by `user` until `until` (the claim service does not exist yet)."""
    from leadflow.crm.models import Lead

    Lead.objects.filter(pk=lead.pk).update(claimed_by=user, claimed_until=until)


def events_of(lead_id: int) -> list[tuple]:
    """The lead's timeline rows, oldest first: (kind, actor id, channel, before, after)."""
    from leadflow.timeline.models import TimelineEvent

    return [
        (e.kind, e.actor_id, e.channel, e.before, e.after)
        for e in TimelineEvent.objects.filter(lead_id=lead_id).order_by("id")
    ]


def event_count() -> int:
    from leadflow.timeline.models import TimelineEvent

    return TimelineEvent.objects.count()


def lead_snapshot(lead_id: int) -> dict | None:
    """Every column of a lead (None when it is gone), for "nothing changed" assertions."""
    from leadflow.crm.models import Lead

    return Lead.objects.filter(pk=lead_id).values().first()


class World:
    """One project with every kind of caller the permission matrix needs.

    agent owns `own_lead`, other_agent owns `other_lead`; viewer is an agent with
    view_all_leads; outsider is an agent and foreign_manager a manager of another project;
    admin belongs to no project."""

    def __init__(self, region: str = "US"):
        self.project = make_project(default_region=region)
        self.agent = make_user(self.project, "agent")
        self.other_agent = make_user(self.project, "agent")
        self.viewer = make_user(self.project, "agent", view_all_leads=True)
        self.manager = make_user(self.project, "manager")
        self.admin = make_user(admin=True)
        self.other_project = make_project()
        self.outsider = make_user(self.other_project, "agent")
        self.foreign_manager = make_user(self.other_project, "manager")
        self.own_lead = make_lead(self.project, actor=Actor(self.agent, "api"))
        self.other_lead = make_lead(self.project, actor=Actor(self.other_agent, "api"))

    def user(self, who: str) -> User | None:
        return None if who == "anonymous" else getattr(self, who)

    def lead(self, which: str):
        return {"own": self.own_lead, "other": self.other_lead}[which]


# --- intake: buckets and submissions ----------------------------------------------------------


def make_bucket(project: Project, *, actor: Actor | None = None, name: str | None = None,
                source: str = "Website", **values):
    """A bucket created through the create_bucket service; returns (bucket, raw API key)."""
    from leadflow.intake.services import buckets

    n = next(_seq)
    return buckets.create_bucket(
        project, actor=actor or SYSTEM, name=name or f"Bucket {n}",
        source=source_named(project, source).pk, **values,
    )


def submit(bucket, payload: dict, **kwargs):
    """One submission through the intake service (stored, then processed)."""
    from leadflow.intake.services import submissions

    return submissions.submit(bucket, payload, **kwargs)


def store_submission(bucket, payload: dict, *, created_at=None, pk: int | None = None):
    """A submission stored but never processed, as a crash between the two steps leaves it."""
    from leadflow.intake.services.submissions import _new_row

    row = _new_row(bucket, payload, "api", None)
    if pk is not None:
        row.pk = pk
    if created_at is not None:
        row.created_at = created_at
    row.save(force_insert=True)
    return row


def post_intake(client, bucket, key: str | None, body, *, path: str = "", **headers):
    """POST a body (a value to encode, or raw bytes/str) to a bucket's intake route."""
    import json

    data = body if isinstance(body, bytes | str) else json.dumps(body)
    if key is not None:
        headers["HTTP_X_API_KEY"] = key
    return client.post(f"/api/v1/intake/{bucket.pk}{path}", data=data,
                       content_type="application/json", **headers)


# --- routing configuration --------------------------------------------------------------------


def make_office(project: Project, *, name: str | None = None, members=()):
    """An office created through the create_office service."""
    from leadflow.routing.services import config

    return config.create_office(project, name or f"Office {next(_seq)}", actor=SYSTEM,
                                members=[u.pk for u in members])


def make_group(project: Project, *, name: str | None = None, members=()):
    """A group created through the create_group service."""
    from leadflow.routing.services import config

    return config.create_group(project, name or f"Group {next(_seq)}", actor=SYSTEM,
                               members=[u.pk for u in members])


def make_rule(project: Project, *, name: str | None = None, pool=None, **options):
    """A distribution rule created through the create_rule service, last in the order, over
    the project's default pool unless another is given."""
    from leadflow.routing.services import config

    return config.create_rule(project, name or f"Rule {next(_seq)}", actor=SYSTEM,
                              pool=(pool or default_pool(project)).pk, **options)


# --- clients ----------------------------------------------------------------------------------


def convert(lead, *, actor: Actor | None = None, into=None):
    """Convert `lead` through the conversion service; returns its client."""
    from leadflow.clients.services import convert_lead

    return convert_lead(lead, actor=actor or SYSTEM, into=into).client


def client_events(client_id: int) -> list[tuple]:
    """The client's timeline rows, oldest first: (kind, actor id, channel, before, after)."""
    from leadflow.timeline.models import TimelineEvent

    return [
        (e.kind, e.actor_id, e.channel, e.before, e.after)
        for e in TimelineEvent.objects.filter(client_id=client_id).order_by("id")
    ]


# --- lists and campaigns ----------------------------------------------------------------------


def make_list(project: Project, *, name: str | None = None, **values):
    """A lead list created through the create_list service."""
    from leadflow.lists import services

    return services.create_list(project, actor=SYSTEM, name=name or f"List {next(_seq)}",
                                **values)


def make_campaign(project: Project, *, name: str | None = None, lists=(), **values):
    """A campaign created through the create_campaign service, with `lists` assigned."""
    from leadflow.lists import services

    campaign = services.create_campaign(project, actor=SYSTEM,
                                        name=name or f"Campaign {next(_seq)}", **values)
    if lists:
        services.assign_lists(campaign, list(lists), actor=SYSTEM)
    return campaign


def put_on_list(lead_list, *leads) -> None:
    """Make `lead_list` the home list of `leads` through the service."""
    from leadflow.lists import services

    for lead in leads:
        services.add_lead_to_list(lead_list, lead, actor=SYSTEM)


# --- custom fields ----------------------------------------------------------------------------


def make_field(project: Project, name: str, *, actor: Actor | None = None, **options):
    """A custom field definition created through the create_field_definition service."""
    return project_services.create_field_definition(project, name, actor=actor or SYSTEM,
                                                    **options)


def custom_keys_of(lead_or_project) -> list[tuple]:
    """(kind, value, lead id, canonical) of the custom and composite keys, sorted."""
    from leadflow.intake.models import DuplicateKey

    qs = DuplicateKey.objects.filter(kind__in=["custom", "composite"])
    if isinstance(lead_or_project, Project):
        qs = qs.filter(lead__project=lead_or_project)
    else:
        qs = qs.filter(lead=lead_or_project)
    return sorted(qs.values_list("kind", "value", "lead_id", "canonical"))


def query_plan(sql: str, params) -> str:
    """The plan either engine picks for a query, as one string. On PostgreSQL, in a transaction
    of its own, sequential scans, sorts and bitmap scans are off: a test table is tiny, and the
    planner would pick them for that reason alone."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        else:
            for setting in ("enable_seqscan", "enable_sort", "enable_bitmapscan"):
                cursor.execute(f"SET LOCAL {setting} = off")
            cursor.execute("EXPLAIN " + sql, params)
        return " ".join(str(row) for row in cursor.fetchall())
