"""The possible-duplicates queue (merge keeping the older or newer lead, dismiss) and the lead
page's "Merge into lead #…" form, with the timeline they leave."""

import pytest
from django.urls import reverse

from leadflow.core.actor import Actor
from leadflow.crm.models import Lead
from leadflow.intake.models import PairState, PossibleDuplicate
from leadflow.intake.services.duplicates import find_possible_duplicates
from leadflow.timeline.models import TimelineKind
from tests.factories import event_count, events_of, make_lead, make_project, make_user

HTMX = {"HTTP_HX_REQUEST": "true"}


def _logged_in(client, user):
    client.force_login(user)
    return client


def _pair(project):
    """Two leads whose names are alike though their keys differ, flagged as a pair."""
    older = make_lead(project, name="Jonathan Smith", email="jon@example.com",
                      phones=["+12025550101"], company="Acme Corp")
    find_possible_duplicates(older)
    newer = make_lead(project, name="Jonathan Smyth", email="j.smyth@example.com",
                      company="Acme Corp Ltd")
    find_possible_duplicates(newer)
    return PossibleDuplicate.objects.get(lead_a=older, lead_b=newer), older, newer


def _kinds(lead_id: int) -> list[str]:
    return [kind for kind, *_ in events_of(lead_id)]


# --- who reaches the queue -------------------------------------------------------------------


def test_agent_is_refused_and_nothing_changes(client):
    project = make_project()
    agent = make_user(project, "agent")
    pair, older, newer = _pair(project)
    before = event_count()
    client = _logged_in(client, agent)

    queue = client.get(reverse("intake:duplicate_list"))
    merge = client.post(reverse("intake:duplicate_merge", args=[pair.pk]), {"keep": "older"})
    dismiss = client.post(reverse("intake:duplicate_dismiss", args=[pair.pk]))

    assert [queue.status_code, merge.status_code, dismiss.status_code] == [403, 403, 403]
    pair.refresh_from_db()
    assert pair.state == PairState.OPEN
    assert Lead.objects.get(pk=newer.pk).merged_into_id is None
    assert event_count() == before


def test_manager_of_another_project_gets_404_and_an_empty_queue(client):
    project, other = make_project(), make_project()
    foreign = make_user(other, "manager")
    pair, older, newer = _pair(project)
    client = _logged_in(client, foreign)

    queue = client.get(reverse("intake:duplicate_list"))
    merge = client.post(reverse("intake:duplicate_merge", args=[pair.pk]), {"keep": "older"})
    dismiss = client.post(reverse("intake:duplicate_dismiss", args=[pair.pk]))

    assert queue.status_code == 200
    assert "Jonathan Smith" not in queue.content.decode()
    assert [merge.status_code, dismiss.status_code] == [404, 404]
    pair.refresh_from_db()
    assert pair.state == PairState.OPEN


def test_queue_shows_both_leads_side_by_side_with_score_and_reason(client):
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = _pair(project)

    response = _logged_in(client, manager).get(reverse("intake:duplicate_list"))

    html = response.content.decode()
    assert response.status_code == 200
    for text in ["Jonathan Smith", "Jonathan Smyth", "jon@example.com", "j.smyth@example.com",
                 "+12025550101", "Acme Corp", "Acme Corp Ltd", pair.reason,
                 f"{pair.score:.0f}% alike", "Merge (keep older)", "Merge (keep newer)",
                 "Not a duplicate"]:
        assert text in html
    assert html.index("Jonathan Smith") < html.index("Jonathan Smyth")
    assert reverse("crm:lead_detail", args=[older.pk]) in html


# --- deciding --------------------------------------------------------------------------------


@pytest.mark.parametrize("keep", ["older", "newer"])
def test_merge_keeps_the_chosen_lead_and_records_the_timeline(client, keep):
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = _pair(project)
    survivor, merged = (older, newer) if keep == "older" else (newer, older)

    response = _logged_in(client, manager).post(
        reverse("intake:duplicate_merge", args=[pair.pk]), {"keep": keep}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("intake:duplicate_list")
    pair.refresh_from_db()
    assert (pair.state, pair.decided_by_id) == (PairState.MERGED, manager.pk)
    assert Lead.objects.get(pk=merged.pk).merged_into_id == survivor.pk
    assert Lead.objects.get(pk=survivor.pk).merged_into_id is None
    assert _kinds(survivor.pk)[-1] == TimelineKind.LEADS_MERGED
    assert events_of(merged.pk)[-1] == (
        TimelineKind.LEAD_MERGED_INTO, manager.pk, "ui", None, {"merged_into": survivor.pk}
    )
    queue = _logged_in(client, manager).get(reverse("intake:duplicate_list")).content.decode()
    assert f"Lead #{merged.pk} merged into lead #{survivor.pk}." in queue
    assert "No possible duplicate to review" in queue


def test_dismiss_marks_the_pair_and_records_it_on_both_leads(client):
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = _pair(project)

    response = _logged_in(client, manager).post(
        reverse("intake:duplicate_dismiss", args=[pair.pk])
    )

    assert response.status_code == 302
    pair.refresh_from_db()
    assert pair.state == PairState.DISMISSED
    assert events_of(older.pk)[-1] == (
        TimelineKind.POSSIBLE_DUPLICATE_DISMISSED, manager.pk, "ui", None,
        {"other_lead": newer.pk, "score": pair.score},
    )
    assert _kinds(newer.pk)[-1] == TimelineKind.POSSIBLE_DUPLICATE_DISMISSED
    assert Lead.objects.filter(pk__in=[older.pk, newer.pk], merged_into__isnull=True).count() == 2


def test_htmx_decision_replaces_the_pair_card(client):
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = _pair(project)

    response = _logged_in(client, manager).post(
        reverse("intake:duplicate_dismiss", args=[pair.pk]), **HTMX
    )

    html = response.content.decode()
    assert html.lstrip().startswith(f'<article class="card pair decided" id="pair-{pair.pk}"')
    assert f"Leads #{older.pk} and #{newer.pk} marked not a duplicate." in html


def test_deciding_a_pair_twice_is_a_message_not_an_error(client):
    project = make_project()
    manager = make_user(project, "manager")
    pair, older, newer = _pair(project)
    client = _logged_in(client, manager)
    client.post(reverse("intake:duplicate_dismiss", args=[pair.pk]))
    before = event_count()

    again = client.post(reverse("intake:duplicate_merge", args=[pair.pk]), {"keep": "older"},
                        follow=True)

    assert again.status_code == 200
    assert "This pair was decided already." in again.content.decode()
    assert Lead.objects.get(pk=newer.pk).merged_into_id is None
    assert event_count() == before


# --- the lead page ---------------------------------------------------------------------------


def test_manager_merges_a_lead_from_its_page(client):
    project = make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project, name="Ada Lovelace", email="ada@example.com")
    into = make_lead(project, name="Ada King", email=None, phones=["+12025550199"])
    client = _logged_in(client, manager)

    page = client.get(reverse("crm:lead_detail", args=[lead.pk])).content.decode()
    response = client.post(reverse("crm:lead_merge", args=[lead.pk]), {"into": into.pk})
    survivor_page = client.get(reverse("crm:lead_detail", args=[into.pk])).content.decode()

    assert "Merge into lead #" in page
    assert response["Location"] == reverse("crm:lead_detail", args=[into.pk])
    assert Lead.objects.get(pk=lead.pk).merged_into_id == into.pk
    assert Lead.objects.get(pk=into.pk).email == "ada@example.com"
    assert f"Lead #{lead.pk} merged into lead #{into.pk}." in survivor_page
    link = f'<a href="{reverse("crm:lead_detail", args=[into.pk])}">#{into.pk}</a>'
    assert f"Merged into lead {link}" in survivor_page
    assert f"Lead #{lead.pk} merged into this one" in survivor_page
    assert f"on merged lead #{lead.pk}" in survivor_page


def test_agent_gets_no_merge_form_and_cannot_merge(client):
    project = make_project()
    agent = make_user(project, "agent")
    lead = make_lead(project, actor=Actor(agent, "ui"))
    other = make_lead(project, actor=Actor(agent, "ui"))
    before = event_count()
    client = _logged_in(client, agent)

    page = client.get(reverse("crm:lead_detail", args=[lead.pk])).content.decode()
    response = client.post(reverse("crm:lead_merge", args=[lead.pk]), {"into": other.pk})

    assert "Merge into lead #" not in page
    assert response.status_code == 403
    assert Lead.objects.get(pk=lead.pk).merged_into_id is None
    assert event_count() == before


@pytest.mark.parametrize("into, message", [
    ("self", "A lead cannot be merged into itself."),
    ("other_project", "Lead #{id} not found."),
    ("missing", "Lead #999999 not found."),
    ("junk", "Give the number of the lead to merge into."),
])
def test_merge_form_refusals_are_messages(client, into, message):
    project, other = make_project(), make_project()
    manager = make_user(project, "manager")
    lead = make_lead(project)
    foreign = make_lead(other)
    target = {"self": lead.pk, "other_project": foreign.pk, "missing": 999999,
              "junk": "abc"}[into]
    before = event_count()

    response = _logged_in(client, manager).post(
        reverse("crm:lead_merge", args=[lead.pk]), {"into": target}, follow=True
    )

    assert response.redirect_chain[-1][0] == reverse("crm:lead_detail", args=[lead.pk])
    assert message.format(id=foreign.pk) in response.content.decode()
    assert Lead.objects.get(pk=lead.pk).merged_into_id is None
    assert event_count() == before


def test_timeline_names_a_repeat_registration(client):
    from tests.web.intake_factories import make_bucket, submit

    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project, name="Partners")
    first = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    submit(bucket, name="Ada Lovelace", email="ADA@example.com")

    html = _logged_in(client, manager).get(
        reverse("crm:lead_detail", args=[first.lead_id])
    ).content.decode()

    assert "Registered again" in html
    assert "Registered again through bucket Partners" in html
    assert "e-mail ada@example.com" in html
