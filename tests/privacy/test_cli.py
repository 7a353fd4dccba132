"""`leadflow erase-person` and `leadflow export-person`."""

from __future__ import annotations

import json

from leadflow.cli import main
from leadflow.crm.models import Lead
from leadflow.privacy.models import Erasure
from tests.privacy.people import EMAIL, AnnsWorld


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_erase_person_prints_what_it_erased(capsys):
    world = AnnsWorld()
    slug = world.project.slug

    code, out, err = run(capsys, "erase-person", EMAIL, "--project", slug, "--yes")

    counts = Erasure.objects.get().counts
    assert (code, err) == (0, "")
    assert out == (f"Erased 3 leads, 1 client, 3 submissions, 1 activity, "
                   f"{counts['events_scrubbed']} history entries, 1 possible duplicate, "
                   f"1 notification and 1 rejected import row of {EMAIL} in project {slug}.\n")
    assert list(Lead.objects.values_list("pk", flat=True)) == [world.bob.pk]
    assert Erasure.objects.get().channel == "cli"


def test_erase_person_again_says_nothing_is_held(capsys):
    world = AnnsWorld()
    slug = world.project.slug
    run(capsys, "erase-person", EMAIL, "--project", slug, "--yes")

    code, out, err = run(capsys, "erase-person", EMAIL, "--project", slug, "--yes")

    assert (code, out, err) == (
        0, f"No data held about {EMAIL} in project {slug}; nothing erased.\n", "")
    assert Erasure.objects.count() == 1


def test_erase_person_without_yes_and_without_a_terminal_refuses(capsys, monkeypatch):
    world = AnnsWorld()
    before = world.state()
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)

    code, out, err = run(capsys, "erase-person", EMAIL, "--project", world.project.slug)

    assert (code, out) == (2, "")
    assert err == "leadflow: erasing cannot be undone; pass --yes to confirm\n"
    assert world.state() == before


def test_erase_person_answered_no_on_a_terminal_changes_nothing(capsys, monkeypatch):
    world = AnnsWorld()
    before = world.state()
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    asked = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "n")

    code, out, err = run(capsys, "erase-person", EMAIL, "--project", world.project.slug)

    assert (code, out, err) == (1, "", "leadflow: erasure cancelled; nothing changed\n")
    assert asked == [f"Erase for good 3 leads, 1 client and 3 submissions of {EMAIL} in "
                     f"project {world.project.slug} (leads: Ann Lee, Ann Lee, Annie Lee)? "
                     "[y/N] "]
    assert world.state() == before


def test_erase_person_with_a_bad_phone_or_unknown_project_is_one_line(capsys):
    world = AnnsWorld()

    assert run(capsys, "erase-person", "12", "--project", world.project.slug, "--yes") == (
        1, "", "leadflow: '12' is not a phone number.\n")
    assert run(capsys, "erase-person", EMAIL, "--project", "nope", "--yes") == (
        1, "", "leadflow: no project with slug 'nope'\n")
    assert Erasure.objects.count() == 0


def test_export_person_prints_json(capsys):
    world = AnnsWorld()

    code, out, err = run(capsys, "export-person", EMAIL, "--project", world.project.slug)

    data = json.loads(out)
    assert (code, err) == (0, "")
    assert sorted(lead["id"] for lead in data["leads"]) == world.ann_ids
    assert [c["name"] for c in data["clients"]] == ["Ann Lee"]


def test_export_person_writes_a_file(capsys, tmp_path):
    world = AnnsWorld()
    target = tmp_path / "ann.json"

    code, out, err = run(capsys, "export-person", "+1 212 555 0100", "--project",
                         world.project.slug, "-o", str(target))

    assert (code, err) == (0, "")
    assert out == f"Exported 2 leads, 1 client and 2 submissions of +1 212 555 0100 to {target}.\n"
    data = json.loads(target.read_text())
    assert data["identifier"] == {"kind": "phone", "value": "+12125550100"}


def test_export_person_of_someone_unknown_exits_1(capsys):
    world = AnnsWorld()

    code, out, err = run(capsys, "export-person", "nobody@example.com", "--project",
                         world.project.slug)

    assert (code, out) == (1, "")
    assert err == (f"leadflow: No data held about nobody@example.com in project "
                   f"{world.project.slug}.\n")
