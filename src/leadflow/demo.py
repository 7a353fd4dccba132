"""The demo project: a manager, three agents, the six-stage pipeline of a brokerage desk,
sources and pools, and a few hundred leads worked over the past weeks; then routing at work — an
office and a group, a round-robin rule over the default pool that routes a landing page bucket's
submissions, leads waiting in the pool (two claimed, one offered to the agents in turn, one
assigned) and the notifications those actions send; the leads' work: calls with outcomes,
notes and e-mails, and next calls (some overdue, some today, most upcoming) for My day; tags,
tag rules and change requests; and clients — closed leads converted by their agents, an upsell
lead of one of them, a partner bucket that makes each submission a client. All made through the
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
from leadflow.activities import services as activities
from leadflow.activities.models import Activity
from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict
from leadflow.crm import services as crm
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import Lead
from leadflow.intake.services import buckets, submissions
from leadflow.projects import services as projects
from leadflow.projects.models import (
    OPEN_STATUSES,
    Pool,
    Project,
    Source,
    Stage,
    Status,
    SystemSettings,
)
from leadflow.routing.models import DistributionRule
from leadflow.routing.services import config as routing

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
LOST_REASONS = ["No budget", "Chose a competitor", "Unreachable", "Not interested"]
EXTRA_SOURCES = ["Trade Show", "Referral Partner"]
OFFICE = "New York Office"
GROUP = "Closers"
RULE = "Landing page round robin"
BUCKET = "Spring Landing Page"
# Submissions of the landing page bucket, routed by RULE in turn to the three agents.
LANDING = [
    ("Ada", "Lovelace", "+12135550142", "en"),
    ("Alan", "Turing", "+14045550177", "en"),
    ("Grace", "Hopper", "+15125550190", "en"),
    ("Katherine", "Johnson", "+13035550123", "en"),
    ("Rosa", "Menéndez", "+19195550168", "es"),
    ("Edsger", "Dijkstra", "+18085550111", "en"),
]
# Leads a manager keeps unowned in the default pool: two are claimed, one offered, one assigned.
WAITING = [
    ("Margaret Hamilton", "margaret.hamilton@example.com", "+12135550131", "Apollo Systems"),
    ("Claude Shannon", "claude.shannon@example.com", "+14045550146", "Bell Signals"),
    ("Hedy Lamarr", "hedy.lamarr@example.com", "+15125550159", "Frequency Labs"),
    ("John von Neumann", "john.vonneumann@example.com", "+13035550182", "Princeton Compute"),
    ("Barbara Liskov", "barbara.liskov@example.com", "+19195550194", "Substitution Inc"),
]
OFFER_MINUTES = 240
# (name, modifiable by agents)
TAGS = [("Hot", True), ("Callback requested", True), ("Spanish speaker", True), ("VIP", False),
        ("Do not call", False)]
PARTNER_BUCKET = "Partner Referrals"
PARTNER_CLIENTS = [
    ("Dorothy Vaughan", "dorothy.vaughan@example.com", "+17575550134", "Langley Computing"),
]
# Leads their agents let sit: assigned weeks ago, never worked, retired back to the pool.
RETIRED = [
    ("Ida Rhodes", "ida.rhodes@example.com", "+12135550163", "Census Analytics", 0, 48),
    ("Kurt Gödel", "kurt.godel@example.com", "+14045550185", "Incompleteness Ltd", 1, 41),
    ("Lise Meitner", "lise.meitner@example.com", "+15125550127", "Fission Partners", 2, 37),
]


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
    existing = Project.objects.filter(slug=DEMO_SLUG).first()
    if existing is not None:
        # A demo seeded before some parts came gets those parts once.
        added = [part for part, done in (("routing", _seed_routing(existing)),
                                         ("activities", _seed_work(existing, random.Random(seed))),
                                         ("tags", _seed_tags(existing)),
                                         ("clients", _seed_clients(existing)),
                                         ("retirement", _seed_retirement(existing)))
                 if done]
        if added:
            parts = " and ".join(filter(None, [", ".join(added[:-1]), added[-1]]))
            return f"Demo project exists already; {parts} demo added."
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
    _seed_work(project, rng)
    _seed_routing(project)
    _seed_tags(project)
    _seed_clients(project)
    _seed_retirement(project)
    return (f"Demo project '{project.slug}' seeded with {created} leads and routing. "
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


CALL_NOTES = ["Asked for a brochure", "Call back after the weekend", "Spoke to the assistant",
              "Interested in the premium plan", "Comparing with another offer", ""]
EMAILS = ["Sent the pricing sheet", "Sent the account opening link", "Follow-up after our call"]


def _seed_work(project: Project, rng) -> bool:
    """Calls, notes and e-mails on the demo's owned leads, spread from their creation to now,
    and next calls on most open ones; once (any activity marks it done)."""
    if Activity.objects.filter(project=project).exists():
        return False
    now = timezone.now()
    outcomes = ["Answered", "Answered", "No answer", "No answer", "Voicemail", "Busy",
                "Call back later", "Wrong number"]
    owned = (Lead.objects.filter(project=project, owner__isnull=False)
             .select_related("owner").order_by("pk"))
    with transaction.atomic():
        for lead in owned:
            worker = Actor(lead.owner, "ui")
            span = (now - lead.created_at).total_seconds()
            for _ in range(rng.choices([0, 1, 2, 3], weights=[25, 35, 25, 15])[0]):
                moment = lead.created_at + timedelta(seconds=rng.uniform(0.05, 0.95) * span)
                kind = rng.choices(["call", "note", "email"], weights=[70, 15, 15])[0]
                with _clock_at(moment):
                    if kind == "call":
                        outcome = rng.choice(outcomes)
                        talked = outcome in ("Answered", "Call back later")
                        activities.log_activity(
                            lead, "call", actor=worker, outcome=outcome,
                            duration_seconds=rng.randint(60, 900) if talked else 0,
                            body=rng.choice(CALL_NOTES) if talked else "")
                    elif kind == "note":
                        activities.log_activity(lead, "note", actor=worker,
                                                body=rng.choice(CALL_NOTES[:-1]))
                    else:
                        activities.log_activity(lead, "email", actor=worker,
                                                body=rng.choice(EMAILS))
            if lead.status not in OPEN_STATUSES or rng.random() < 0.3:
                continue
            roll = rng.random()
            if roll < 0.2:
                when = now - timedelta(hours=rng.uniform(1, 30))  # overdue
            elif roll < 0.45:
                when = now + timedelta(minutes=rng.randint(30, 360))
            else:
                when = now + timedelta(days=rng.uniform(1, 10))
            when = when.replace(second=0, microsecond=0)
            # Scheduled a while before it was due, like a real follow-up.
            with _clock_at(min(now, when - timedelta(days=rng.uniform(1, 3)))):
                activities.schedule_next_call(lead, when, actor=worker)
    return True


def _seed_routing(project: Project) -> bool:
    """Routing at work in the demo project, once (its rule marks it done): returns whether it
    seeded anything. The demo's users must be there; otherwise nothing is done."""
    if DistributionRule.objects.filter(project=project, name=RULE).exists():
        return False
    manager = User.objects.filter(email=MANAGER[0]).first()
    agents = [User.objects.filter(email=email).first() for email, _name in AGENTS]
    if manager is None or None in agents:
        return False
    boss = Actor(manager, "ui")
    ids = [agent.pk for agent in agents]
    pool = Pool.objects.get(project=project, is_default=True)
    website = Source.objects.get(project=project, name="Website")
    with transaction.atomic():
        routing.create_office(project, OFFICE, actor=boss, members=ids[:2])
        routing.create_group(project, GROUP, actor=boss, members=ids[1:])
        bucket, _key = buckets.create_bucket(project, actor=boss, name=BUCKET,
                                             label="Spring campaign", source=website.pk)
        routing.create_rule(project, RULE, actor=boss, pool=pool.pk, buckets=[bucket.pk])
        for n, (first, last, phone, language) in enumerate(LANDING):
            email = f"{first}.{last}@example.com".lower().replace("é", "e")
            submissions.submit(bucket, {
                "first_name": first, "last_name": last, "email": email, "phone": phone,
                "country": "US", "language": language, "utm_source": "spring-newsletter",
            }, channel="api", idempotency_key=f"demo-landing-{n}")
        waiting = []
        for name, email, phone, company in WAITING:
            data = LeadInput(name=name, email=email, phones=[phone], company=company,
                             country="US", language="en")
            waiting.append(crm.create_lead(project, data, actor=boss, route=False).lead)
        crm.claim(waiting[0], actor=Actor(agents[1], "ui"))
        crm.claim(waiting[1], actor=Actor(agents[2], "ui"))
        crm.make_offer(waiting[2], actor=boss, recipients=ids, mode="sequence",
                       acceptance_minutes=OFFER_MINUTES,
                       note="Asked for a call back this week; first to accept calls her.")
        crm.assign(waiting[3], actor=boss, owner=agents[0],
                   note="Met him at the trade show: warm lead.")
        # waiting[4] stays in the pool for "give me the next lead".
    return True


def _seed_tags(project: Project) -> bool:
    """Tags at work in the demo project, once (the VIP tag marks it done): modifiable and
    non-modifiable tags, two rules, tags applied by agents and the manager, and one agent's
    request for VIP waiting in the approvals queue. Returns whether it seeded anything."""
    from leadflow.tags import services as tags
    from leadflow.tags.models import Tag

    if Tag.objects.filter(project=project, key="vip").exists():
        return False
    manager = User.objects.filter(email=MANAGER[0]).first()
    agents = [User.objects.filter(email=email).first() for email, _name in AGENTS]
    if manager is None or None in agents:
        return False
    boss = Actor(manager, "ui")
    with transaction.atomic():
        made = {name: tags.create_tag(project, name, actor=boss, is_modifiable=modifiable)
                for name, modifiable in TAGS}
        tags.create_tag_rule(project, actor=boss, tag=made["Do not call"], action="unassign")
        tags.create_tag_rule(project, actor=boss, tag=made["VIP"], action="notify",
                             notify_owner=True, notify_managers=True,
                             message="A lead became VIP: worth a personal call today.")
        open_leads = {agent.pk: list(crm_leads_of(project, agent)[:3]) for agent in agents}
        first, second, third = (open_leads[a.pk] for a in agents)
        if first:
            tags.change_lead_tags(first[0], actor=Actor(agents[0], "ui"),
                                  add=["Hot", "Callback requested"])
            tags.change_lead_tags(first[-1], actor=boss, add=["VIP"])
        if second:
            tags.change_lead_tags(second[0], actor=Actor(agents[1], "ui"),
                                  add=["Spanish speaker", "VIP"])
        if third:
            request = tags.change_lead_tags(third[0], actor=Actor(agents[2], "ui"),
                                            add=["Do not call"]).change_requests
            if request:
                tags.reject_change_request(request[0], actor=boss,
                                           reason="She asked for a call next week, not never.")
    return True


def crm_leads_of(project: Project, owner: User):
    from leadflow.crm.models import Lead

    return Lead.objects.filter(project=project, owner=owner, status__in=[
        Status.NOT_CONTACTED, Status.CONTACTED, Status.QUALIFIED]).order_by("id")


def _seed_clients(project: Project) -> bool:
    """Clients in the demo project, once (the partner bucket marks it done): the two leads
    furthest along converted by their owners, an upsell lead of the first client, and a
    partner bucket that creates clients (owned by the first agent), with one submission.
    Returns whether it seeded anything."""
    from leadflow.clients.services import convert_lead
    from leadflow.intake.models import Bucket

    if Bucket.objects.filter(project=project, name=PARTNER_BUCKET).exists():
        return False
    manager = User.objects.filter(email=MANAGER[0]).first()
    partner_agent = User.objects.filter(email=AGENTS[0][0]).first()
    if manager is None or partner_agent is None:
        return False
    from leadflow.crm.models import Lead

    # The two leads furthest along the pipeline (Closed when there are any).
    closed = list(Lead.objects.filter(project=project, status=Status.QUALIFIED,
                                      owner__isnull=False, client__isnull=True)
                  .select_related("owner", "stage", "source", "project")
                  .order_by("-stage__position", "pk")[:2])
    referral = Source.objects.get(project=project, name="Referral")
    with transaction.atomic():
        clients = [convert_lead(lead, actor=Actor(lead.owner, "ui"),
                                reason="Signed the account agreement").client
                   for lead in closed]
        if clients:
            first = clients[0]
            data = LeadInput(name=first.name, email=first.email, phones=list(first.phones),
                             company=first.company, country="US", language="en")
            crm.create_lead(project, data, actor=Actor(first.owner, "ui"), client=first,
                            route=False)
        bucket, _key = buckets.create_bucket(
            project, actor=Actor(manager, "ui"), name=PARTNER_BUCKET, label="Partner desk",
            source=referral.pk, affiliate_id="PARTNER-42", creates="client",
            default_manager=partner_agent.pk,
        )
        for name, email, phone, company in PARTNER_CLIENTS:
            submissions.submit(bucket, {"name": name, "email": email, "phone": phone,
                                        "company": company, "country": "US"},
                               channel="api", idempotency_key=f"demo-partner-{email}")
    return True


def _seed_retirement(project: Project) -> bool:
    """A few leads retired after weeks without activity, once: returns whether it seeded any.
    The demo's agents must be there; otherwise nothing is done."""
    from leadflow.crm.models import Lead
    from leadflow.crm.services.retirement import retire_lead

    if Lead.objects.filter(project=project, email=RETIRED[0][1]).exists():
        return False
    agents = [User.objects.filter(email=email).first() for email, _name in AGENTS]
    settings = SystemSettings.load()
    if None in agents:
        return False
    linkedin = Source.objects.get(project=project, name="LinkedIn")
    now = timezone.now()
    with transaction.atomic():
        for name, email, phone, company, agent, days in RETIRED:
            data = LeadInput(name=name, email=email, phones=[phone], company=company,
                             country="US", language="en")
            with _clock_at(now - timedelta(days=days)):
                lead = crm.create_lead(project, data, actor=Actor(agents[agent], "ui"),
                                       source=linkedin, owner=agents[agent]).lead
            with _clock_at(now - timedelta(days=max(days - settings.retirement_days, 1))):
                retire_lead(lead, actor=Actor.system("job"),
                            reason=f"No activity and no new assignment for "
                                   f"{settings.retirement_days} days.")
    return True
