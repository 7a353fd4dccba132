"""The admins' personal-data screen: find, preview, download, erase; refused to others."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from leadflow.crm.models import Lead
from leadflow.privacy.models import Erasure
from tests.privacy.people import EMAIL, AnnsWorld

SCREEN = "config:personal_data"


def _find(client, world, person):
    return client.get(reverse(SCREEN), {"project": world.project.pk, "person": person})


def test_admins_find_the_screen_under_settings(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    html = client.get(reverse("config:index")).content.decode()

    assert f'href="{reverse(SCREEN)}"' in html


def test_managers_see_no_link_to_the_screen(client):
    world = AnnsWorld()
    client.force_login(world.manager)

    html = client.get(reverse("config:index")).content.decode()

    assert reverse(SCREEN) not in html


def test_the_preview_names_the_leads_and_counts_what_would_go(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    response = _find(client, world, EMAIL)

    html = response.content.decode()
    assert response.status_code == 200
    assert f"Held about {EMAIL} in {world.project.name}" in html
    assert "3 leads: Ann Lee, Ann Lee, Annie Lee" in html
    assert "1 client</li>" in html
    assert "3 submissions</li>" in html
    assert f'action="{reverse("config:personal_data_erase")}"' in html
    assert Lead.objects.count() == 4  # the preview changes nothing


def test_the_preview_says_when_nothing_is_held(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    html = _find(client, world, "nobody@example.com").content.decode()

    assert f"Nothing is held about nobody@example.com in {world.project.name}." in html
    assert "Erase for good" not in html


def test_a_bad_phone_is_shown_on_the_form(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    response = _find(client, world, "12")

    assert response.status_code == 200
    assert "&#x27;12&#x27; is not a phone number." in response.content.decode()


def test_erasing_shows_the_outcome_and_lists_the_erasure(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    response = client.post(reverse("config:personal_data_erase"),
                           {"project": world.project.pk, "person": EMAIL}, follow=True)

    html = response.content.decode()
    erasure = Erasure.objects.get()
    assert response.redirect_chain == [(reverse(SCREEN), 302)]
    assert (f"Erased 3 leads, 1 client, 3 submissions, 1 activity, "
            f"{erasure.counts['events_scrubbed']} history entries, 1 possible duplicate, "
            f"1 notification and 1 rejected import row of {EMAIL} in {world.project.name}."
            ) in html
    assert f"in {world.project.name} by {world.admin.email}: 3 leads, 1 client, 3 submissions" \
        in html
    assert EMAIL not in html.split("Recent erasures")[1]
    assert list(Lead.objects.values_list("pk", flat=True)) == [world.bob.pk]
    assert (erasure.erased_by_id, erasure.channel) == (world.admin.pk, "ui")


def test_the_download_holds_everything_about_the_person(client):
    world = AnnsWorld()
    client.force_login(world.admin)

    response = client.get(reverse("config:personal_data_export"),
                          {"project": world.project.pk, "person": EMAIL})

    assert response.status_code == 200
    assert response["Content-Disposition"] == (
        f'attachment; filename="personal-data-{world.project.slug}.json"')
    data = json.loads(response.content)
    assert sorted(lead["id"] for lead in data["leads"]) == world.ann_ids


@pytest.mark.parametrize("who", ["manager", "agent"])
def test_managers_and_agents_are_refused_and_nothing_changes(client, who):
    world = AnnsWorld()
    before = world.state()
    client.force_login(getattr(world, who))
    person = {"project": world.project.pk, "person": EMAIL}

    screen = client.get(reverse(SCREEN), person)
    download = client.get(reverse("config:personal_data_export"), person)
    erase = client.post(reverse("config:personal_data_erase"), person)

    assert (screen.status_code, download.status_code, erase.status_code) == (403, 403, 403)
    assert "Ann Lee" not in screen.content.decode() + download.content.decode()
    assert world.state() == before
