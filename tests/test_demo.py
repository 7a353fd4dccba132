from unittest import mock

from django.utils import timezone

from leadflow.accounts.models import Notification, User
from leadflow.cli import main
from leadflow.crm.models import Lead
from leadflow.demo import DEMO_PASSWORD, seed_demo
from leadflow.intake.models import Bucket, Submission
from leadflow.projects.models import Project, Stage
from leadflow.routing.models import DistributionRule, Group, Offer, Office
from leadflow.timeline.models import TimelineEvent, TimelineKind


def test_demo_seeds_a_worked_project_once():
    message = seed_demo(leads=40)

    project = Project.objects.get(slug="demo")
    assert "seeded with" in message
    assert list(Stage.objects.filter(project=project).values_list("name", flat=True)) == [
        "New", "Contacted", "Interested", "Documents Requested", "Deposited", "Closed",
        "Converted", "Lost",
    ]
    manager = User.objects.get(email="manager@example.com")
    assert manager.check_password(DEMO_PASSWORD)
    assert project.memberships.filter(role="agent").count() == 3
    leads = Lead.objects.filter(project=project)
    # 40 worked over past weeks, 6 from the landing page bucket, 5 waiting in the pool, an
    # upsell lead, a partner bucket's client and
    # three leads retired
    assert leads.count() == 40 + 6 + 5 + 2 + 3
    created_events = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_CREATED)
    assert created_events.count() == 40 + 6 + 5 + 2 + 3
    # history is spread over past weeks, not stamped all at once
    created = sorted(leads.values_list("created_at", flat=True))
    assert (created[-1] - created[0]).days >= 7
    assert TimelineEvent.objects.filter(kind=TimelineKind.STAGE_CHANGED).exists()

    assert seed_demo(leads=40) == "Demo project exists already."
    assert Lead.objects.filter(project=project).count() == 40 + 6 + 5 + 2 + 3


def test_demo_if_empty_leaves_a_used_database_alone():
    User.objects.create_user("someone@example.com", "password123")

    assert seed_demo(leads=5, only_if_empty=True).startswith("Database already has users")
    assert not Project.objects.filter(slug="demo").exists()


# --- routing in the demo -------------------------------------------------------------------------


def _routing_rows() -> dict:
    return {model.__name__: model.objects.count() for model in (
        Office, Group, DistributionRule, Bucket, Submission, Offer, Notification, Lead,
        TimelineEvent)}


def test_demo_routes_a_buckets_submissions_round_robin_over_the_default_pool():

    seed_demo(leads=20)

    project = Project.objects.get(slug="demo")
    rule = DistributionRule.objects.get(project=project)
    bucket = Bucket.objects.get(project=project, name="Spring Landing Page")
    agents = [User.objects.get(email=f"agent{n}@example.com") for n in (1, 2, 3)]
    assert (rule.name, rule.method, rule.pool.is_default, rule.buckets, rule.active) == (
        "Landing page round robin", "round_robin", True, [bucket.pk], True)
    assert bucket.default_manager_id is None and bucket.source.name == "Website"
    rows = Submission.objects.filter(bucket=bucket).order_by("pk")
    assert [row.status for row in rows] == ["processed"] * 6
    assert [row.lead.owner_id for row in rows] == [a.pk for a in agents] * 2
    routed = TimelineEvent.objects.filter(kind=TimelineKind.LEAD_ROUTED,
                                          lead_id__in=rows.values("lead_id"))
    assert routed.count() == 6
    assert {event.after["via"] for event in routed} == {"rule"}
    assert {event.after["rule"] for event in routed} == {rule.pk}


def members(team) -> list[int]:
    return sorted(team.members.values_list("pk", flat=True))


def test_demo_has_an_office_a_group_a_vip_pool_claims_an_offer_and_notifications():

    seed_demo(leads=20)

    project = Project.objects.get(slug="demo")
    a1, a2, a3 = (User.objects.get(email=f"agent{n}@example.com") for n in (1, 2, 3))
    assert members(Office.objects.get(project=project, name="New York Office")) == [a1.pk, a2.pk]
    assert members(Group.objects.get(project=project, name="Closers")) == [a2.pk, a3.pk]
    vip = project.pools.get(name="VIP High-Value")
    assert list(vip.members.values_list("pk", flat=True)) == [a1.pk]
    now = timezone.now()
    claimed = Lead.objects.filter(project=project, claimed_until__gt=now).order_by("pk")
    assert [(lead.name, lead.claimed_by_id, lead.owner_id) for lead in claimed] == [
        ("Margaret Hamilton", a2.pk, None), ("Claude Shannon", a3.pk, None)]
    offer = Offer.objects.get(lead__project=project)
    assert (offer.status, offer.mode, offer.lead.name, offer.lead.owner_id) == (
        "open", "sequence", "Hedy Lamarr", None)
    assert list(offer.recipients.order_by("position").values_list("user_id", flat=True)) == [
        a1.pk, a2.pk, a3.pk]
    notes = sorted(Notification.objects.filter(kind__in=["lead_assigned", "offer"])
                   .values_list("user__email", "kind"))
    # two routed landing-page leads each, one assignment, the partner bucket's client's lead,
    # and the offer's three recipients
    assert notes == sorted(
        [(f"agent{i}@example.com", "lead_assigned") for i in (1, 1, 1, 1, 2, 2, 3, 3)]
        + [(f"agent{i}@example.com", "offer") for i in (1, 2, 3)])
    assigned = Lead.objects.get(project=project, name="John von Neumann")
    assert assigned.owner_id == a1.pk
    waiting = Lead.objects.get(project=project, name="Barbara Liskov")
    assert waiting.is_unassigned(now) and waiting.pool.is_default


def test_a_second_demo_run_adds_nothing():
    seed_demo(leads=20)
    before = _routing_rows()

    message = seed_demo(leads=20)

    assert message == "Demo project exists already."
    assert _routing_rows() == before


def test_a_demo_seeded_before_routing_gets_routing_once():

    with mock.patch("leadflow.demo._seed_routing", return_value=False), \
            mock.patch("leadflow.demo._seed_clients", return_value=False):
        seed_demo(leads=10)
    assert not DistributionRule.objects.exists()

    added = seed_demo(leads=10)
    again = seed_demo(leads=10)

    assert added == "Demo project exists already; routing and clients demo added."
    assert again == "Demo project exists already."
    assert DistributionRule.objects.count() == 1
    assert Lead.objects.filter(project__slug="demo").count() == 10 + 6 + 5 + 2 + 3


def test_demo_command_if_empty_seeds_an_empty_database_then_leaves_it(capsys):
    first = main(["demo", "--if-empty", "--leads", "10"])
    first_out = capsys.readouterr().out
    counts = _routing_rows()
    second = main(["demo", "--if-empty", "--leads", "10"])
    second_out = capsys.readouterr().out

    assert (first, second) == (0, 0)
    assert first_out.startswith("Demo project 'demo' seeded with 10 leads and routing.")
    assert second_out == "Database already has users; demo not seeded.\n"
    assert _routing_rows() == counts


# --- tags in the demo ----------------------------------------------------------------------------


def test_demo_has_tags_rules_and_a_pending_change_request():
    from leadflow.tags.models import ChangeRequest, LeadTag, Tag, TagRule

    seed_demo(leads=40)

    project = Project.objects.get(slug="demo")
    assert sorted(Tag.objects.filter(project=project).values_list("name", "is_modifiable")) == [
        ("Callback requested", True), ("Do not call", False), ("Hot", True),
        ("Spanish speaker", True), ("VIP", False)]
    assert sorted(TagRule.objects.values_list("tag__name", "action")) == [
        ("Do not call", "unassign"), ("VIP", "notify")]
    pending = ChangeRequest.objects.get(state="pending")
    assert (pending.tag.name, pending.requested_by.email) == ("VIP", "agent2@example.com")
    assert ChangeRequest.objects.get(state="rejected").tag.name == "Do not call"
    assert LeadTag.objects.filter(tag__name="VIP").count() == 1
    assert Notification.objects.filter(kind="tag_rule").exists()
    assert Notification.objects.filter(kind="tag_change_requested").exists()
    rows = LeadTag.objects.count()
    assert seed_demo(leads=40) == "Demo project exists already."
    assert LeadTag.objects.count() == rows


# --- clients in the demo -------------------------------------------------------------------------


def test_demo_has_converted_clients_an_upsell_lead_and_a_client_bucket():
    from leadflow.clients.models import Client

    seed_demo(leads=40)

    project = Project.objects.get(slug="demo")
    clients = list(Client.objects.filter(project=project).order_by("pk"))
    assert len(clients) == 3
    first, second, partner = clients
    converted = Lead.objects.filter(project=project, converted_at__isnull=False)
    assert converted.count() == 3
    assert all(lead.status == "CONVERTED" and lead.client_id for lead in converted)
    upsell = Lead.objects.get(project=project, client=first, converted_at__isnull=True)
    assert (upsell.email, upsell.owner_id) == (first.email, first.owner_id)
    assert first.owner_id is not None and second.owner_id is not None
    bucket = Bucket.objects.get(project=project, name="Partner Referrals")
    assert bucket.creates == "client"
    assert (partner.name, partner.bucket_label, partner.affiliate_id) == (
        "Dorothy Vaughan", "Partner desk", "PARTNER-42")
    assert partner.owner.email == "agent1@example.com"
    assert TimelineEvent.objects.filter(kind=TimelineKind.CLIENT_CREATED).count() == 3
    assert TimelineEvent.objects.filter(kind=TimelineKind.CLIENT_LEAD_ADDED,
                                        client_id=first.pk).count() == 1


# --- retirement in the demo ----------------------------------------------------------------------


def test_demo_has_leads_retired_after_weeks_without_activity():
    seed_demo(leads=5)

    retired = Lead.objects.filter(retired_at__isnull=False).order_by("pk")
    assert [(lead.name, lead.owner_id) for lead in retired] == [
        ("Ida Rhodes", None), ("Kurt Gödel", None), ("Lise Meitner", None)]
    agents = list(User.objects.filter(email__startswith="agent").order_by("email"))
    assert [lead.original_owner_id for lead in retired] == [a.pk for a in agents]
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_RETIRED).count() == 3
    assert seed_demo(leads=5) == "Demo project exists already."
