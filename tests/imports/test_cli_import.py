"""`leadflow import FILE --project SLUG [--list] [--policy] [--map] [--dry-run]` (DESIGN §5)."""

import pytest

from leadflow.cli import main
from leadflow.crm.models import Lead
from leadflow.lists.models import LeadList
from tests.factories import make_lead, make_project
from tests.imports.helpers import csv_bytes, write_file

ROWS = [["First Name", "Last Name", "Email", "Mobile Phone", "Lead Source"],
        ["Ada", "Lovelace", "ada@example.com", "+1 212 555 0101", "Trade fair"],
        ["Bad", "Row", "broken", "", ""],
        ["Bob", "Stone", "bob@example.com", "", "Referral"]]


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_import_applies_the_suggested_mapping_and_prints_counts(capsys):
    project = make_project(slug="acme")
    make_lead(project, name="Bob", email="bob@example.com")
    path = write_file(csv_bytes(ROWS))

    code, out, err = run(capsys, "import", str(path), "--project", "acme")

    assert code == 0
    assert out == "created 1, updated 0, moved 0, skipped 1, rejected 1\n"
    assert "warning: Unknown source 'Trade fair': imported with source Import. (1 rows)" in err
    assert "row 3: email:" in err
    assert "Mapping: First Name=first_name, Last Name=last_name, Email=email, " \
           "Mobile Phone=phone1, Lead Source=source" in err
    assert Lead.objects.get(email="ada@example.com").name == "Ada Lovelace"


def test_import_with_policy_list_and_map(capsys):
    project = make_project(slug="acme")
    bob = make_lead(project, name="Bob", email="bob@example.com")
    path = write_file(csv_bytes(ROWS))

    code, out, _err = run(capsys, "import", str(path), "--project", "acme", "--policy", "move",
                          "--list", "Fair 2026", "--map", "Mobile Phone=,Last Name=company")

    assert (code, out) == (0, "created 1, updated 0, moved 1, skipped 0, rejected 1\n")
    fair = LeadList.objects.get(project=project)
    bob.refresh_from_db()
    assert (fair.name, bob.list_id, bob.company) == ("Fair 2026", fair.pk, "Stone")
    ada = Lead.objects.get(email="ada@example.com")
    assert (ada.name, ada.phones, ada.list_id) == ("Ada", [], fair.pk)


def test_dry_run_writes_nothing(capsys):
    make_project(slug="acme")
    path = write_file(csv_bytes(ROWS))

    code, out, _err = run(capsys, "import", str(path), "--project", "acme", "--dry-run")

    assert (code, out) == (
        0, "Dry run, nothing written: created 2, updated 0, moved 0, skipped 0, rejected 1\n")
    assert not Lead.objects.exists()


@pytest.mark.parametrize("_case, argv, message", [
    ("missing file", ["import", "/nonexistent.csv", "--project", "acme"],
     "leadflow: no such file: /nonexistent.csv\n"),
    ("unknown project", ["import", "{file}", "--project", "nope"],
     "leadflow: no project with slug 'nope'\n"),
    ("unknown field", ["import", "{file}", "--project", "acme", "--map", "Email=shoe"],
     "leadflow: mapping.Email: 'shoe' is not a field: use one of name, first_name, last_name, "
     "email, phone1, phone2, phone3, phone4, phone5, company, timezone, country, language, "
     "source, stage or custom.<name>.\n"),
    ("move without list", ["import", "{file}", "--project", "acme", "--policy", "move"],
     "leadflow: list: Moving duplicates needs a list.\n"),
])
def test_errors_print_one_line_and_exit_1(capsys, _case, argv, message):
    make_project(slug="acme")
    path = write_file(csv_bytes(ROWS))

    code, out, err = run(capsys, *[a.replace("{file}", str(path)) for a in argv])

    assert (code, out, err) == (1, "", message)
    assert not Lead.objects.exists()


def test_an_empty_file_is_an_error(capsys):
    make_project(slug="acme")

    code, _out, err = run(capsys, "import", str(write_file(b"")), "--project", "acme")

    assert (code, err) == (1, "leadflow: file: The file is empty.\n")


@pytest.mark.parametrize("_case, argv", [
    ("no project", ["import", "x.csv"]),
    ("bad policy", ["import", "x.csv", "--project", "acme", "--policy", "merge"]),
])
def test_bad_usage_exits_2(capsys, _case, argv):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_malformed_map_exits_2(capsys):
    code, _out, err = run(capsys, "import", "x.csv", "--project", "acme", "--map", "nofield")

    assert (code, err) == (2, "leadflow: --map expects COLUMN=field, got 'nofield'\n")
