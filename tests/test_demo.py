from leadflow.accounts.models import User
from leadflow.crm.models import Lead
from leadflow.demo import DEMO_PASSWORD, seed_demo
from leadflow.projects.models import Project, Stage
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
    assert leads.count() == 40
    assert TimelineEvent.objects.filter(kind=TimelineKind.LEAD_CREATED).count() == 40
    # history is spread over past weeks, not stamped all at once
    created = sorted(leads.values_list("created_at", flat=True))
    assert (created[-1] - created[0]).days >= 7
    assert TimelineEvent.objects.filter(kind=TimelineKind.STAGE_CHANGED).exists()

    assert seed_demo(leads=40) == "Demo project exists already."
    assert Lead.objects.filter(project=project).count() == 40


def test_demo_if_empty_leaves_a_used_database_alone():
    User.objects.create_user("someone@example.com", "password123")

    assert seed_demo(leads=5, only_if_empty=True).startswith("Database already has users")
    assert not Project.objects.filter(slug="demo").exists()
