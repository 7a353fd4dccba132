"""Bucket screens: list, create (key shown once), edit, rotate key; a bucket's submissions table
with search, filters and the "Only unassigned leads" toggle; submission detail and reprocess."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from leadflow.accounts.models import hash_token
from leadflow.crm import services as crm_services
from leadflow.intake.models import Bucket, Submission, SubmissionAttempt
from leadflow.intake.services import buckets as bucket_services
from leadflow.intake.services.buckets import authenticate_bucket
from leadflow.projects.models import Source
from tests.factories import SYSTEM, make_lead, make_project, make_user, set_claim, source_named
from tests.web.intake_factories import make_bucket, submit

HTMX = {"HTTP_HX_REQUEST": "true"}


def _logged_in(client, user):
    client.force_login(user)
    return client


def _bucket_screens(bucket, submission):
    return [
        ("get", reverse("intake:bucket_detail", args=[bucket.pk])),
        ("get", reverse("intake:bucket_edit", args=[bucket.pk])),
        ("get", reverse("intake:bucket_rotate_key", args=[bucket.pk])),
        ("get", reverse("intake:submission_detail", args=[submission.pk])),
        ("get", reverse("intake:bucket_create", args=[bucket.project_id])),
    ]


def _rows(response) -> list[int]:
    return [row.pk for row in response.context["rows"]]


# --- who reaches what ------------------------------------------------------------------------


def test_agent_is_refused_on_every_bucket_screen(client):
    project = make_project()
    agent = make_user(project, "agent")
    bucket = make_bucket(project)
    submission = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    client = _logged_in(client, agent)

    statuses = [client.get(url).status_code for _, url in _bucket_screens(bucket, submission)]
    listing = client.get(reverse("intake:bucket_list"))
    nav = client.get(reverse("crm:lead_list")).content.decode()

    assert statuses == [403] * 5
    assert listing.status_code == 403
    assert reverse("intake:bucket_list") not in nav


def test_agent_posting_to_bucket_screens_changes_nothing(client):
    project = make_project()
    agent = make_user(project, "agent")
    bucket = make_bucket(project, name="Affiliates")
    submission = submit(bucket, name="No Contact")
    key_hash = bucket.key_hash
    client = _logged_in(client, agent)

    create = client.post(reverse("intake:bucket_create", args=[project.pk]),
                         {"name": "Sneaky", "source": source_named(project, "Website").pk})
    edit = client.post(reverse("intake:bucket_edit", args=[bucket.pk]), {"name": "Renamed"})
    rotate = client.post(reverse("intake:bucket_rotate_key", args=[bucket.pk]))
    reprocess = client.post(reverse("intake:submission_reprocess", args=[submission.pk]))

    assert [create.status_code, edit.status_code, rotate.status_code,
            reprocess.status_code] == [403, 403, 403, 403]
    bucket.refresh_from_db()
    submission.refresh_from_db()
    assert (bucket.name, bucket.key_hash) == ("Affiliates", key_hash)
    assert not Bucket.objects.filter(name="Sneaky").exists()
    assert submission.attempts == 1


def test_manager_of_another_project_gets_404(client):
    project, other = make_project(), make_project()
    manager = make_user(other, "manager")
    bucket = make_bucket(project)
    submission = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    client = _logged_in(client, manager)

    statuses = [client.get(url).status_code for _, url in _bucket_screens(bucket, submission)]
    reprocess = client.post(reverse("intake:submission_reprocess", args=[submission.pk]))
    listing = client.get(reverse("intake:bucket_list")).content.decode()

    assert statuses == [404] * 5
    assert reprocess.status_code == 404
    assert bucket.name not in listing


def test_manager_reaches_buckets_from_the_navigation(client):
    project = make_project(name="Brand A")
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    bucket = make_bucket(project, name="Affiliates", label="AFF-Q3", affiliate_id="A-77",
                         default_manager=agent.pk)
    client = _logged_in(client, manager)

    nav = client.get(reverse("crm:lead_list")).content.decode()
    response = client.get(reverse("intake:bucket_list"))

    assert reverse("intake:bucket_list") in nav
    assert reverse("intake:duplicate_list") in nav
    assert response.status_code == 200
    html = response.content.decode()
    for text in ["Brand A", "Affiliates", "AFF-Q3", "A-77", "Website", agent.label, "active"]:
        assert text in html
    assert reverse("intake:bucket_detail", args=[bucket.pk]) in html
    assert reverse("intake:bucket_create", args=[project.pk]) in html


def test_admin_sees_every_projects_buckets(client):
    first, second = make_project(), make_project()
    admin = make_user(admin=True)
    make_bucket(first, name="First Bucket")
    make_bucket(second, name="Second Bucket")

    html = _logged_in(client, admin).get(reverse("intake:bucket_list")).content.decode()

    assert "First Bucket" in html and "Second Bucket" in html


# --- create, edit, rotate --------------------------------------------------------------------


def test_created_bucket_shows_its_api_key_once(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    website = source_named(project, "Website")
    client = _logged_in(client, manager)

    response = client.post(reverse("intake:bucket_create", args=[project.pk]), {
        "name": "Partner feed", "label": "", "source": website.pk, "default_manager": agent.pk,
        "affiliate_id": "P-1", "active": "on",
    })

    bucket = Bucket.objects.get(project=project, name="Partner feed")
    key = response.context["api_key"]
    html = response.content.decode()
    assert response.status_code == 200
    assert key in html
    assert "shown only this once" in html
    assert "no-store" in response["Cache-Control"]
    assert bucket.key_hash == hash_token(key)
    assert (bucket.label, bucket.source_id, bucket.default_manager_id, bucket.affiliate_id,
            bucket.active) == ("Partner feed", website.pk, agent.pk, "P-1", True)
    later = [
        client.get(reverse("intake:bucket_list")),
        client.get(reverse("intake:bucket_detail", args=[bucket.pk])),
        client.get(reverse("intake:bucket_edit", args=[bucket.pk])),
    ]
    assert [page.status_code for page in later] == [200, 200, 200]
    assert all(key not in page.content.decode() for page in later)


def test_bucket_form_shows_service_errors_on_fields(client):
    project = make_project()
    manager = make_user(project, "manager")

    response = _logged_in(client, manager).post(
        reverse("intake:bucket_create", args=[project.pk]), {"name": "", "affiliate_id": "x" * 101}
    )

    errors = response.context["form"].errors
    assert response.status_code == 200
    assert errors["name"] == ["Name is required."]
    assert errors["source"] == ["Choose the source this bucket's leads come from."]
    assert errors["affiliate_id"] == ["At most 100 characters."]
    assert not Bucket.objects.filter(project=project).exists()


def test_existing_bucket_name_is_an_error_on_the_name(client):
    project = make_project()
    manager = make_user(project, "manager")
    make_bucket(project, name="Taken")

    response = _logged_in(client, manager).post(
        reverse("intake:bucket_create", args=[project.pk]),
        {"name": "Taken", "source": source_named(project, "Website").pk},
    )

    assert response.context["form"].errors["name"] == ["Bucket 'Taken' exists already."]
    assert Bucket.objects.filter(project=project).count() == 1


def test_manager_edits_a_bucket(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project, name="Old", affiliate_id="A-1")
    referral = source_named(project, "Referral")
    key_hash = bucket.key_hash

    response = _logged_in(client, manager).post(
        reverse("intake:bucket_edit", args=[bucket.pk]),
        {"name": "New", "label": "Label 2", "source": referral.pk, "default_manager": "",
         "affiliate_id": "A-2"},
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("intake:bucket_list")
    bucket.refresh_from_db()
    assert (bucket.name, bucket.label, bucket.source_id, bucket.affiliate_id, bucket.active,
            bucket.key_hash) == ("New", "Label 2", referral.pk, "A-2", False, key_hash)


def test_source_of_another_project_is_refused(client):
    project, other = make_project(), make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project, name="Mine")
    foreign = Source.objects.filter(project=other).first()

    response = _logged_in(client, manager).post(
        reverse("intake:bucket_edit", args=[bucket.pk]),
        {"name": "Mine", "source": foreign.pk, "active": "on"},
    )

    assert response.status_code == 200
    assert response.context["form"].errors["source"] == [
        f"Select a valid choice. {foreign.pk} is not one of the available choices."
    ]
    bucket.refresh_from_db()
    assert bucket.source_id != foreign.pk


def test_rotating_the_key_asks_first_then_shows_the_new_key_once(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket, old_key = bucket_services.create_bucket(
        project, actor=SYSTEM, name="Feed", source=source_named(project, "Website").pk
    )
    client = _logged_in(client, manager)

    confirm = client.get(reverse("intake:bucket_rotate_key", args=[bucket.pk]))
    still_valid = authenticate_bucket(bucket.pk, old_key)
    rotated = client.post(reverse("intake:bucket_rotate_key", args=[bucket.pk]))
    new_key = rotated.context["api_key"]

    assert confirm.status_code == 200
    assert "stops working at once" in confirm.content.decode()
    assert still_valid == bucket
    assert rotated.status_code == 200
    assert new_key in rotated.content.decode()
    assert "no-store" in rotated["Cache-Control"]
    assert authenticate_bucket(bucket.pk, old_key) is None
    assert authenticate_bucket(bucket.pk, new_key) == bucket
    edit = client.get(reverse("intake:bucket_edit", args=[bucket.pk])).content.decode()
    assert new_key not in edit
    assert new_key[:8] in edit


# --- the submissions table -------------------------------------------------------------------


def test_submissions_table_shows_status_duplicate_manager_and_tracking(client):
    project = make_project(name="Brand A")
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    bucket = make_bucket(project, default_manager=agent.pk, affiliate_id="BK-1")
    first = submit(bucket, name="Ada Lovelace", email="ada@example.com", utm_source="google",
                   utm_campaign="spring", affiliate_id="PAY-9")
    again = submit(bucket, name="Ada L.", email="ADA@example.com")
    refused = submit(bucket, name="Bad Mail", email="not-an-email")

    response = _logged_in(client, manager).get(reverse("intake:bucket_detail", args=[bucket.pk]))

    html = response.content.decode()
    assert response.status_code == 200
    assert _rows(response) == [refused.pk, again.pk, first.pk]
    assert "ada@example.com" in html
    assert 'class="badge sub-processed"' in html
    assert 'class="badge sub-duplicate"' in html
    assert 'class="badge sub-rejected"' in html
    assert "An email address must have an @-sign." in html
    assert f'Duplicate of <a href="{reverse("crm:lead_detail", args=[first.lead_id])}">' in html
    assert agent.label in html and "Brand A" in html
    assert "PAY-9" in html and "source: google" in html and "campaign: spring" in html


def test_toggle_sits_next_to_search_outside_the_filters_drawer(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)

    html = _logged_in(client, manager).get(
        reverse("intake:bucket_detail", args=[bucket.pk])
    ).content.decode()

    searchbar = html[html.index('class="searchbar"'):html.index("<details")]
    assert 'name="q"' in searchbar
    assert 'name="unassigned" value="true"' in searchbar
    assert f'data-bucket="{bucket.pk}"' in searchbar
    assert "Only unassigned leads" in searchbar
    drawer = html[html.index("<details"):html.index("</details>")]
    assert 'name="status"' in drawer and 'name="manager"' in drawer
    assert 'name="created_after"' in drawer and 'name="ordering"' in drawer
    assert "checked" not in searchbar


def _mixed_bucket(project, agent):
    """A bucket whose first leads went to `agent` and later ones stayed unassigned."""
    bucket = make_bucket(project, default_manager=agent.pk)
    owned = submit(bucket, name="Owned Person", email="owned@example.com")
    bucket_services.update_bucket(bucket, actor=SYSTEM, default_manager=None)
    free = submit(bucket, name="Free Person", email="free@example.com")
    claimed = submit(bucket, name="Claimed Person", email="claimed@example.com")
    set_claim(claimed.lead, agent, timezone.now() + timedelta(hours=1))
    again_owned = submit(bucket, name="Owned Again", email="OWNED@example.com")
    again_free = submit(bucket, name="Free Again", email="FREE@example.com")
    refused = submit(bucket, name="No Contact")
    return bucket, {"owned": owned, "free": free, "claimed": claimed,
                    "again_owned": again_owned, "again_free": again_free, "refused": refused}


def test_unassigned_toggle_keeps_only_leads_nobody_owns_or_claims(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    bucket, made = _mixed_bucket(project, agent)
    client = _logged_in(client, manager)

    everything = client.get(reverse("intake:bucket_detail", args=[bucket.pk]))
    unassigned = client.get(reverse("intake:bucket_detail", args=[bucket.pk]),
                            {"unassigned": "true"})

    assert len(_rows(everything)) == 6
    assert _rows(unassigned) == [made["again_free"].pk, made["free"].pk]
    assert 'value="true" id="only-unassigned"' in unassigned.content.decode()
    toggle = unassigned.content.decode().split('id="only-unassigned"')[1].split(">")[0]
    assert "checked" in toggle


def test_filters_by_status_manager_and_registration_date(client):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    bucket, made = _mixed_bucket(project, agent)
    Submission.objects.filter(pk=made["owned"].pk).update(
        created_at=timezone.now() - timedelta(days=10)
    )
    url = reverse("intake:bucket_detail", args=[bucket.pk])
    client = _logged_in(client, manager)
    today = timezone.now().date()

    duplicates = client.get(url, {"status": "duplicate"})
    rejected = client.get(url, {"status": "rejected"})
    by_agent = client.get(url, {"manager": agent.pk})
    old = client.get(url, {"created_before": (today - timedelta(days=5)).isoformat()})
    recent = client.get(url, {"created_after": (today - timedelta(days=1)).isoformat(),
                              "status": "processed"})
    oldest_first = client.get(url, {"ordering": "created_at"})

    assert _rows(duplicates) == [made["again_free"].pk, made["again_owned"].pk]
    assert _rows(rejected) == [made["refused"].pk]
    assert _rows(by_agent) == [made["again_owned"].pk, made["owned"].pk]
    assert _rows(old) == [made["owned"].pk]
    assert _rows(recent) == [made["claimed"].pk, made["free"].pk]
    assert _rows(oldest_first)[0] == made["owned"].pk


def test_search_finds_by_email_id_or_name(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    ada = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    grace = submit(bucket, name="Grace Hopper", email="grace@navy.example")
    url = reverse("intake:bucket_detail", args=[bucket.pk])
    client = _logged_in(client, manager)

    by_email = client.get(url, {"q": "GRACE@"})
    by_id = client.get(url, {"q": str(ada.pk)})
    by_lead_id = client.get(url, {"q": str(grace.lead_id)})
    by_name = client.get(url, {"q": "lovel"})

    assert _rows(by_email) == [grace.pk]
    assert ada.pk in _rows(by_id)
    assert grace.pk in _rows(by_lead_id)
    assert _rows(by_name) == [ada.pk]


def test_bad_filter_values_are_shown_not_crashing(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    submit(bucket, name="Ada Lovelace", email="ada@example.com")

    response = _logged_in(client, manager).get(
        reverse("intake:bucket_detail", args=[bucket.pk]), {"status": "bogus", "cursor": "zz"}
    )

    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert "Cursor is not valid." in response.content.decode()


def test_htmx_request_gets_only_the_table_partial(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    submit(bucket, name="Ada Lovelace", email="ada@example.com")
    submit(bucket, name="Grace Hopper", email="grace@example.com")

    response = _logged_in(client, manager).get(
        reverse("intake:bucket_detail", args=[bucket.pk]), {"q": "grace"}, **HTMX
    )

    html = response.content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<section id="submission-results"')
    assert "Grace Hopper" in html and "Ada Lovelace" not in html
    assert response["Vary"].count("HX-Request") == 1


def test_next_page_links_show_every_submission_once(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    ids = {submit(bucket, name=f"Person {i}", phone=f"+1202555{i:04d}").pk for i in range(53)}
    url = reverse("intake:bucket_detail", args=[bucket.pk])
    client = _logged_in(client, manager)

    first = client.get(url, {"ordering": "created_at"})
    second = client.get(url, {"ordering": "created_at", "cursor": first.context["next_cursor"]})

    assert len(_rows(first)) == 50
    assert "Next page" in first.content.decode()
    assert len(_rows(second)) == 3
    assert second.context["next_cursor"] is None
    assert "First page" in second.content.decode()
    assert set(_rows(first)) | set(_rows(second)) == ids


def test_submissions_table_query_count_does_not_grow_with_rows(
    client, django_assert_max_num_queries
):
    project = make_project()
    manager = make_user(project, "manager")
    agent = make_user(project, "agent")
    bucket = make_bucket(project, default_manager=agent.pk)
    for i in range(20):
        submit(bucket, name=f"Person {i}", email=f"person{i}@example.com")
        submit(bucket, name=f"Person {i} again", email=f"PERSON{i}@example.com")
    url = reverse("intake:bucket_detail", args=[bucket.pk])
    client = _logged_in(client, manager)

    # The page shell counts unread notifications for the bell: one query.
    # One of them is the nav's approvals badge (managers).
    with django_assert_max_num_queries(8):
        full = client.get(url)
    with django_assert_max_num_queries(5):
        partial = client.get(url, {"unassigned": "true", "q": "person"}, **HTMX)

    assert len(full.context["rows"]) == 40
    assert partial.status_code == 200


# --- reprocess and detail --------------------------------------------------------------------


def test_manager_reprocesses_a_duplicate_whose_lead_is_gone(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    first = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    again = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    crm_services.delete_lead(first.lead, actor=SYSTEM)
    url = reverse("intake:bucket_detail", args=[bucket.pk])
    client = _logged_in(client, manager)

    response = client.post(reverse("intake:submission_reprocess", args=[again.pk]),
                           {"next": f"{url}?status=duplicate"})

    again.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"{url}?status=duplicate"
    assert (again.status, again.attempts) == ("processed", 2)
    assert again.lead_id is not None
    attempts = list(SubmissionAttempt.objects.filter(submission=again).order_by("id"))
    assert [(a.status, a.actor_label) for a in attempts] == [
        ("duplicate", "intake"), ("processed", manager.email)
    ]
    page = client.get(url).content.decode()
    assert f"Submission #{again.pk} reprocessed: Processed." in page


def test_reprocess_by_htmx_replaces_the_row(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    refused = submit(bucket, name="Bad Mail", email="not-an-email")

    response = _logged_in(client, manager).post(
        reverse("intake:submission_reprocess", args=[refused.pk]), **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<tr id="submission-{refused.pk}"')
    assert f"Submission #{refused.pk} reprocessed: Rejected." in html
    refused.refresh_from_db()
    assert refused.attempts == 2


def test_processed_submission_offers_no_reprocess_and_refuses_it(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    done = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    client = _logged_in(client, manager)

    table = client.get(reverse("intake:bucket_detail", args=[bucket.pk])).content.decode()
    response = client.post(reverse("intake:submission_reprocess", args=[done.pk]), follow=True)

    assert reverse("intake:submission_reprocess", args=[done.pk]) not in table
    assert "Open lead" in table
    assert "This submission was processed already." in response.content.decode()
    done.refresh_from_db()
    assert done.attempts == 1


def test_open_redirect_is_not_followed_after_reprocess(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    refused = submit(bucket, name="No Contact")

    response = _logged_in(client, manager).post(
        reverse("intake:submission_reprocess", args=[refused.pk]),
        {"next": "https://evil.example/"},
    )

    assert response["Location"] == reverse("intake:bucket_detail", args=[bucket.pk])


def test_submission_detail_shows_raw_normalized_errors_matches_and_attempts(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    first = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    again = submit(bucket, name="Ada", email="ADA@example.com", extra_field="kept")
    refused = submit(bucket, name="Bad", email="bad")
    client = _logged_in(client, manager)

    duplicate = client.get(reverse("intake:submission_detail", args=[again.pk])).content.decode()
    rejected = client.get(reverse("intake:submission_detail", args=[refused.pk])).content.decode()

    assert "&quot;extra_field&quot;: &quot;kept&quot;" in duplicate
    assert f'Duplicate of <a href="{reverse("crm:lead_detail", args=[first.lead_id])}">' \
        in duplicate
    assert "e-mail ada@example.com" in duplicate
    assert "An email address must have an @-sign." in rejected
    assert "invalid_email" in rejected
    assert "No processing attempt yet." not in rejected
    assert rejected.count('class="badge sub-rejected"') == 2  # heading and the one attempt


def test_submission_detail_escapes_html_in_the_raw_payload(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    evil = submit(bucket, name="<script>alert(1)</script>", email="x@example.com",
                  note='<img src=x onerror="alert(2)">')

    response = _logged_in(client, manager).get(
        reverse("intake:submission_detail", args=[evil.pk])
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=\\&quot;alert(2)\\&quot;&gt;" in html


def test_a_merged_lead_is_reached_through_its_survivor(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project)
    created = submit(bucket, name="Ada Lovelace", email="ada@example.com")
    survivor = make_lead(project, name="Ada King", email="king@example.com")
    crm_services.merge_leads(created.lead, survivor, actor=SYSTEM)

    html = _logged_in(client, manager).get(
        reverse("intake:bucket_detail", args=[bucket.pk])
    ).content.decode()

    assert reverse("crm:lead_detail", args=[survivor.pk]) in html
    assert reverse("crm:lead_detail", args=[created.lead_id]) not in html


@pytest.mark.parametrize("who", ["manager", "admin"])
def test_submission_detail_is_open_to_managers_and_admins(client, who):
    project = make_project()
    user = make_user(project, "manager") if who == "manager" else make_user(admin=True)
    bucket = make_bucket(project)
    submission = submit(bucket, name="Ada Lovelace", email="ada@example.com")

    response = _logged_in(client, user).get(
        reverse("intake:submission_detail", args=[submission.pk])
    )

    assert response.status_code == 200


def test_manager_makes_a_bucket_create_clients(client):
    project = make_project()
    manager = make_user(project, "manager")
    bucket = make_bucket(project, name="Partners")

    form = _logged_in(client, manager).get(reverse("intake:bucket_edit", args=[bucket.pk]))
    response = client.post(reverse("intake:bucket_edit", args=[bucket.pk]), {
        "name": "Partners", "source": bucket.source_id, "creates": "client", "active": "on"})

    assert 'name="creates"' in form.content.decode()
    assert response.status_code == 302
    bucket.refresh_from_db()
    assert bucket.creates == "client"
