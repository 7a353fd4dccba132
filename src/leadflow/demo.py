"""The demo project: a manager, three agents, the six-stage pipeline of a brokerage desk,
sources and pools, and a few hundred leads worked over the past weeks — all made through the
same services users call, so every lead has a real timeline."""

from __future__ import annotations

import random
from contextlib import contextmanager
from datetime import timedelta
from unittest import mock

from django.db import transaction
from django.utils import timezone

from leadflow.accounts import services as accounts
from leadflow.accounts.models import User
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict
from leadflow.crm import services as crm
from leadflow.crm.contact import LeadInput
from leadflow.projects import services as projects
from leadflow.projects.models import Project, Source, Stage, Status

DEMO_SLUG = "demo"
DEMO_PASSWORD = "demo1234"
ADMIN = ("admin@example.com", "Alex Admin")
MANAGER = ("manager@example.com", "Morgan Manager")
AGENTS = [
    ("agent1@example.com", "Avery Agent"),
    ("agent2@example.com", "Blake Agent"),
    ("agent3@example.com", "Casey Agent"),
]
PIPELINE = [
    ("New", Status.NOT_CONTACTED),
    ("Contacted", Status.CONTACTED),
    ("Interested", Status.CONTACTED),
    ("Documents Requested", Status.QUALIFIED),
    ("Deposited", Status.QUALIFIED),
    ("Closed", Status.QUALIFIED),
]
FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
         "Richard Susan Joseph Jessica Thomas Sarah Carlos Lucía José María Chen Wei Aiko Hiro "
         "Priya Arjun Fatima Omar Sofia Mateo Olivia Noah Emma Liam Ava Ethan Mia Lucas").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Müller Schmidt Rossi Kowalski Novak Tanaka Patel Khan").split()
COMPANIES = ("Northwind Traders|Contoso Ltd|Fabrikam Inc|Globex|Initech|Umbrella Holdings|"
             "Stark Logistics|Wayne Capital|Acme Corp|Vandelay Imports|Hooli|Pied Piper|"
             "Soylent Foods|Wonka Industries|Tyrell Systems|Cyberdyne|Aperture Labs||||").split("|")
AREA_CODES = ["212", "312", "415", "646", "702", "305", "617", "206"]
LOST_REASONS = ["No budget", "Chose a competitor", "Not reachable", "Not interested now"]
EXTRA_SOURCES = ["Trade Show", "Referral Partner"]


@contextmanager
def _clock_at(moment):
    """Make the services stamp `moment` as now, so demo history spreads over past weeks."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def _user(email: str, name: str, *, admin: bool = False) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = accounts.create_user(email, actor=Actor(None, "cli"), name=name,
                                    password=DEMO_PASSWORD, is_admin=admin)
    return user


def seed_demo(*, leads: int = 300, only_if_empty: bool = False, seed: int = 7) -> str:
    """Create the demo project once. Idempotent: an existing demo project is left alone."""
    if only_if_empty and User.objects.exists():
        return "Database already has users; demo not seeded."
    if Project.objects.filter(slug=DEMO_SLUG).exists():
        return "Demo project exists already."
    system = Actor(None, "cli")
    rng = random.Random(seed)
    with transaction.atomic():
        _user(*ADMIN, admin=True)
        project = projects.create_project("Demo Brokerage", actor=system, slug=DEMO_SLUG,
                                          default_region="US", stages=PIPELINE)
        manager = _user(*MANAGER)
        accounts.set_membership(manager, project, "manager", actor=system)
        agents = [_user(email, name) for email, name in AGENTS]
        for agent in agents:
            accounts.set_membership(agent, project, "agent", actor=system)
        for name in EXTRA_SOURCES:
            projects.create_source(project, name, actor=system)
        projects.create_pool(project, "VIP High-Value", actor=system, members=[agents[0].pk])
        projects.create_pool(project, "Spanish Desk", actor=system,
                             members=[agents[1].pk, agents[2].pk])
    created = _seed_leads(project, manager, agents, leads, rng)
    return (f"Demo project '{project.slug}' seeded with {created} leads. "
            f"Log in as {ADMIN[0]}, {MANAGER[0]} or agent1@example.com, password {DEMO_PASSWORD}.")


def _seed_leads(project, manager, agents, count, rng) -> int:
    sources = list(Source.objects.filter(project=project).exclude(name="Import"))
    stages = list(Stage.objects.filter(project=project).order_by("position"))
    open_stages = [s for s in stages if not s.is_terminal]
    lost = next(s for s in stages if s.status == Status.LOST)
    now = timezone.now()
    created = 0
    for n in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = rng.choice(COMPANIES)
        email = f"{first}.{last}{n}@example.com".lower().replace("ü", "u").replace("í", "i")
        email = email.replace("é", "e").replace("ó", "o")
        phone = f"+1{rng.choice(AREA_CODES)}555{rng.randint(100, 9999):04d}"
        born = now - timedelta(days=rng.uniform(1, 56), minutes=rng.randint(0, 600))
        agent = rng.choice(agents)
        unowned = rng.random() < 0.15
        creator = Actor(manager if unowned else agent, rng.choice(["ui", "api"]))
        data = LeadInput(name=f"{first} {last}", email=email, phones=[phone], company=company,
                         country="US", language=rng.choice(["en", "en", "en", "es"]))
        try:
            with _clock_at(born):
                lead = crm.create_lead(project, data, actor=creator, source=rng.choice(sources),
                                       owner=None if unowned else agent).lead
        except Conflict:
            continue
        created += 1
        worker = Actor(manager if unowned else agent, "ui")
        moment = born
        steps = rng.choices([0, 1, 2, 3, 4, 5], weights=[30, 25, 18, 12, 8, 7])[0]
        for stage in open_stages[1 : steps + 1]:
            moment += timedelta(days=rng.uniform(0.5, 6), minutes=rng.randint(5, 300))
            if moment >= now:
                break
            with _clock_at(moment):
                lead = crm.set_stage(lead, stage, actor=worker)
        if rng.random() < 0.12 and moment + timedelta(days=2) < now:
            with _clock_at(moment + timedelta(days=rng.uniform(1, 2))):
                crm.set_stage(lead, lost, actor=worker, lost_reason=rng.choice(LOST_REASONS))
    return created
