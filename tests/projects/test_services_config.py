import pytest

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, PermissionDenied, ValidationFailed
from leadflow.crm import services as crm_services
from leadflow.crm.models import Lead
from leadflow.projects import services
from leadflow.projects.models import OPEN_STATUSES, Stage, SystemSettings
from tests.factories import make_lead, make_project, make_user


def _open_stage_names(project):
    return list(
        Stage.objects.filter(project=project, status__in=OPEN_STATUSES)
        .order_by("position").values_list("name", flat=True)
    )


def test_manager_moves_a_stage_up_and_positions_stay_dense():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")
    qualified = Stage.objects.get(project=project, name="Qualified")

    services.move_stage(qualified, actor=manager, up=True)

    assert _open_stage_names(project) == ["New", "Qualified", "Contacted"]
    assert list(
        Stage.objects.filter(project=project, status__in=OPEN_STATUSES)
        .order_by("position").values_list("position", flat=True)
    ) == [1, 2, 3]


def test_moving_the_first_stage_up_changes_nothing():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")

    services.move_stage(Stage.objects.get(project=project, name="New"), actor=manager, up=True)

    assert _open_stage_names(project) == ["New", "Contacted", "Qualified"]


def test_agent_cannot_move_stages_and_terminal_stages_do_not_move():
    project = make_project()
    agent = Actor(make_user(project, "agent"), "ui")
    manager = Actor(make_user(project, "manager"), "ui")

    with pytest.raises(PermissionDenied):
        services.move_stage(Stage.objects.get(project=project, name="Qualified"), actor=agent,
                            up=True)
    with pytest.raises(Conflict):
        services.move_stage(Stage.objects.get(project=project, name="Lost"), actor=manager,
                            up=True)
    assert _open_stage_names(project) == ["New", "Contacted", "Qualified"]


def test_remapping_a_stage_relabels_the_status_of_its_leads():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")
    lead = make_lead(project)
    new = Stage.objects.get(project=project, name="New")

    services.update_stage(new, actor=manager, status="CONTACTED")

    assert Lead.objects.get(pk=lead.pk).status == "CONTACTED"


def test_refused_rename_leaves_the_object_as_saved():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")
    pool = services.create_pool(project, "VIP", actor=manager)
    services.create_pool(project, "APAC", actor=manager)

    with pytest.raises(ValidationFailed):
        services.update_pool(pool, actor=manager, name="")
    assert pool.name == "VIP"
    with pytest.raises(Conflict):
        services.update_pool(pool, actor=manager, name="APAC")
    assert pool.name == "VIP"


def test_failed_lead_update_leaves_the_lead_object_unchanged():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")
    make_lead(project, email="taken@example.com")
    lead = make_lead(project, email="mine@example.com")

    with pytest.raises(Conflict):
        crm_services.update_lead(lead, {"email": "taken@example.com"}, actor=manager)
    assert lead.email == "mine@example.com"


def test_pool_with_leads_cannot_be_deleted():
    project = make_project()
    manager = Actor(make_user(project, "manager"), "ui")
    agent = make_user(project, "agent")
    pool = services.create_pool(project, "VIP", actor=manager, members=[agent.pk])
    lead = make_lead(project)
    Lead.objects.filter(pk=lead.pk).update(pool=pool)

    with pytest.raises(Conflict) as refused:
        services.delete_pool(pool, actor=manager)
    assert refused.value.code == "pool_in_use"


@pytest.mark.parametrize("value", [True, False, 1.5, "7", 0, 100000])
def test_settings_refuse_values_that_are_not_whole_numbers_in_range(value):
    admin = Actor(make_user(admin=True), "api")

    with pytest.raises(ValidationFailed):
        services.update_settings(actor=admin, retirement_days=value)
    assert SystemSettings.load().retirement_days == 30
