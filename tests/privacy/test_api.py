"""`POST /api/v1/privacy/erase` and `GET /api/v1/privacy/export` (admins)."""

from __future__ import annotations

import json
from datetime import datetime

import pytest

from leadflow.crm.models import Lead
from leadflow.privacy.models import Erasure
from tests.factories import auth
from tests.privacy.people import EMAIL, PHONE, AnnsWorld


def _erase(client, user, body):
    return client.post("/api/v1/privacy/erase", data=json.dumps(body),
                       content_type="application/json", **auth(user))


def test_an_admin_erases_a_person(client):
    world = AnnsWorld()

    response = _erase(client, world.admin, {"project": world.project.pk, "email": EMAIL})

    erasure = Erasure.objects.get()
    assert response.status_code == 200
    body = response.json()
    erased_at = datetime.fromisoformat(body.pop("erased_at"))
    assert body == {"erased": True, "id": erasure.pk, "project": world.project.pk,
                    "counts": erasure.counts}
    # The API writes milliseconds.
    assert erased_at == erasure.erased_at.replace(
        microsecond=erasure.erased_at.microsecond // 1000 * 1000)
    assert (erasure.counts["leads"], erasure.counts["clients"]) == (3, 1)
    assert (erasure.channel, erasure.erased_by_id) == ("api", world.admin.pk)
    assert list(Lead.objects.values_list("pk", flat=True)) == [world.bob.pk]


def test_erasing_someone_not_held_answers_erased_false(client):
    world = AnnsWorld()

    response = _erase(client, world.admin, {"project": world.project.pk,
                                            "email": "nobody@example.com"})

    assert response.status_code == 200
    assert response.json() == {"erased": False, "id": None, "project": world.project.pk,
                               "counts": dict.fromkeys(response.json()["counts"], 0),
                               "erased_at": None}
    assert len(response.json()["counts"]) == 8
    assert not Erasure.objects.exists()


@pytest.mark.parametrize("who", ["manager", "agent"])
def test_managers_and_agents_get_403_before_the_body_is_read(client, who):
    world = AnnsWorld()
    before = world.state()

    erase = client.post("/api/v1/privacy/erase", data="not json",
                        content_type="application/json", **auth(getattr(world, who)))
    export = client.get("/api/v1/privacy/export",
                        {"project": world.project.pk, "email": EMAIL},
                        **auth(getattr(world, who)))

    assert (erase.status_code, export.status_code) == (403, 403)
    assert world.state() == before


def test_bad_input_is_a_400_with_field_errors(client):
    world = AnnsWorld()

    both = _erase(client, world.admin, {"project": world.project.pk, "email": EMAIL,
                                        "phone": PHONE})
    unknown = _erase(client, world.admin, {"project": world.project.pk, "name": "Ann"})
    missing_project = _erase(client, world.admin, {"project": -1, "email": EMAIL})

    assert both.status_code == 400
    assert both.json()["errors"] == [{"field": "email", "code": "one_identifier",
                                      "message": "Give either an e-mail address or a phone "
                                                 "number."}]
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["code"] == "unknown_field"
    assert missing_project.status_code == 404
    assert not Erasure.objects.exists()


def test_an_admin_exports_a_person(client):
    world = AnnsWorld()

    response = client.get("/api/v1/privacy/export",
                          {"project": world.project.pk, "phone": "(212) 555-0100"},
                          **auth(world.admin))

    assert response.status_code == 200
    data = response.json()
    assert data["identifier"] == {"kind": "phone", "value": PHONE}
    assert sorted(lead["id"] for lead in data["leads"]) == [world.lead.pk, world.merged.pk]


def test_export_of_someone_not_held_is_404(client):
    world = AnnsWorld()

    response = client.get("/api/v1/privacy/export",
                          {"project": world.project.pk, "email": "nobody@example.com"},
                          **auth(world.admin))

    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"No data held about nobody@example.com in project {world.project.slug}.")
