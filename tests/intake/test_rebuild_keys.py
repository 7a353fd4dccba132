"""rebuild_keys: recompute every lead's duplicate keys after the duplicate options changed,
reporting the collisions (DESIGN §2, identity and duplicates)."""

import pytest

from leadflow.core.errors import PermissionDenied
from leadflow.crm import services as crm_services
from leadflow.crm.contact import LeadInput
from leadflow.intake.models import DuplicateKey
from leadflow.intake.services.keys import rebuild_keys
from leadflow.projects import services as project_services
from tests.factories import (
    SYSTEM,
    as_actor,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    submit,
)


def all_keys() -> list[tuple]:
    return sorted(DuplicateKey.objects.values_list("scope", "kind", "value", "lead_id",
                                                   "canonical"))


def test_ignoring_plus_tags_makes_two_leads_collide_and_the_older_keeps_the_key():
    project = make_project()
    admin = make_user(admin=True)
    older = make_lead(project, name="Ann", email="ann+news@example.com")
    newer = make_lead(project, name="Ann", email="ann@example.com")
    scope = f"p{project.pk}"
    project_services.update_settings(actor=as_actor(admin), email_ignore_plus=True)

    report = rebuild_keys(actor=as_actor(admin))

    assert (report.leads, report.keys) == (2, 2)
    assert report.collisions == [
        {"kind": "email", "value": "ann@example.com", "kept_by": older.pk, "lead": newer.pk}]
    assert all_keys() == [(scope, "email", "ann@example.com", older.pk, True),
                          (scope, "email", "ann@example.com", newer.pk, False)]
    bucket, _key = make_bucket(project)
    submission = submit(bucket, {"name": "Ann", "email": "Ann+Offers@example.com"})
    assert (submission.status, submission.duplicate_of_id) == ("duplicate", older.pk)
    assert submission.matched == [{"kind": "email", "value": "ann@example.com",
                                   "lead": older.pk}]


def test_a_global_scope_makes_a_lead_of_one_project_duplicate_a_lead_of_another():
    first, second = make_project(), make_project()
    admin = make_user(admin=True)
    in_first = make_lead(first, name="Ann", email="ann@example.com", phones=["+12125550100"])
    in_second = make_lead(second, name="Ann", email="ann@example.com")
    project_services.update_settings(actor=as_actor(admin), duplicate_scope="global")

    report = rebuild_keys(actor=as_actor(admin))

    assert report.collisions == [
        {"kind": "email", "value": "ann@example.com", "kept_by": in_first.pk,
         "lead": in_second.pk}]
    assert all_keys() == [("global", "email", "ann@example.com", in_first.pk, True),
                          ("global", "email", "ann@example.com", in_second.pk, False),
                          ("global", "phone", "+12125550100", in_first.pk, True)]
    bucket, _key = make_bucket(second)
    submission = submit(bucket, {"name": "Ann", "phone": "(212) 555-0100"})
    assert (submission.status, submission.duplicate_of_id) == ("duplicate", in_first.pk)


def test_back_to_project_scope_each_project_holds_its_own_keys_again():
    first, second = make_project(), make_project()
    admin = make_user(admin=True)
    in_first = make_lead(first, name="Ann", email="ann@example.com")
    in_second = make_lead(second, name="Ann", email="ann@example.com")
    project_services.update_settings(actor=as_actor(admin), duplicate_scope="global")
    rebuild_keys(actor=as_actor(admin))
    project_services.update_settings(actor=as_actor(admin), duplicate_scope="project")

    report = rebuild_keys(actor=as_actor(admin))

    assert report.collisions == []
    assert all_keys() == [(f"p{first.pk}", "email", "ann@example.com", in_first.pk, True),
                          (f"p{second.pk}", "email", "ann@example.com", in_second.pk, True)]


def test_a_merged_away_leads_values_count_for_its_survivor():
    project = make_project()
    admin = make_user(admin=True)
    survivor = make_lead(project, name="Ann", email="ann@example.com")
    other = make_lead(project, name="Ann", email="ann.lee@example.com")
    crm_services.merge_leads(other, survivor, actor=as_actor(admin))
    before = all_keys()

    report = rebuild_keys(actor=as_actor(admin))

    assert report.collisions == []
    assert all_keys() == before == [
        (f"p{project.pk}", "email", "ann.lee@example.com", survivor.pk, True),
        (f"p{project.pk}", "email", "ann@example.com", survivor.pk, True)]


def test_kept_both_leads_are_reported_as_collisions():
    project = make_project()
    admin = make_user(admin=True)
    first = make_lead(project, name="Ann", email="ann@example.com")
    second = crm_services.create_lead(project, LeadInput(name="Ann B", email="ann@example.com"),
                                      actor=SYSTEM, on_duplicate="keep_both").lead
    before = all_keys()

    report = rebuild_keys(actor=as_actor(admin))

    assert report.collisions == [{"kind": "email", "value": "ann@example.com",
                                  "kept_by": first.pk, "lead": second.pk}]
    assert all_keys() == before


@pytest.mark.parametrize("_case, role", [("manager", "manager"), ("agent", "agent")])
def test_only_admins_rebuild_keys(_case, role):
    project = make_project()
    user = make_user(project, role)
    make_lead(project, name="Ann", email="ann+news@example.com")
    make_lead(project, name="Ann", email="ann@example.com")
    project_services.update_settings(actor=SYSTEM, email_ignore_plus=True)
    before = all_keys()

    with pytest.raises(PermissionDenied):
        rebuild_keys(actor=as_actor(user))

    assert all_keys() == before
