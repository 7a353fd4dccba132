"""Reading real-world files: encodings, delimiters, line endings, quoted newlines, XLSX."""

import codecs

import pytest

from leadflow.core.errors import ValidationFailed
from leadflow.crm.models import Lead
from leadflow.imports.mapping import apply_mapping, suggest
from leadflow.imports.reading import RowReader, inspect_file
from tests.factories import make_project
from tests.imports.helpers import counts, csv_bytes, run, write_file, xlsx_bytes

ROWS = [["Name", "Email", "Company"], ["Zoë Dupré", "zoe@example.com", "Café Crème"]]


def read(content: bytes, suffix=".csv"):
    path = write_file(content, suffix)
    info = inspect_file(path)
    with RowReader(path, info) as reader:
        return info, reader.columns, [r for r in reader.rows() if r]


@pytest.mark.parametrize("_case, content, encoding", [
    ("utf-8 with BOM", codecs.BOM_UTF8 + csv_bytes(ROWS), "utf-8-sig"),
    ("utf-8", csv_bytes(ROWS), "utf-8"),
    ("utf-16 LE with BOM", codecs.BOM_UTF16_LE + csv_bytes(ROWS, encoding="utf-16-le"), "utf-16"),
    ("utf-16 BE with BOM", codecs.BOM_UTF16_BE + csv_bytes(ROWS, encoding="utf-16-be"), "utf-16"),
    ("cp1252 from Windows", csv_bytes(ROWS, encoding="cp1252"), "cp1252"),
])
def test_encodings_are_detected(_case, content, encoding):
    info, columns, rows = read(content)

    assert (info.encoding, columns, rows) == (encoding, ROWS[0], [ROWS[1]])


def test_cp1252_euro_sign_and_curly_quotes_survive():
    content = csv_bytes([["Name", "Email"], ["“Ada” €", "a@example.com"]], encoding="cp1252")

    assert read(content)[2] == [["“Ada” €", "a@example.com"]]


@pytest.mark.parametrize("_case, delimiter", [("comma", ","), ("semicolon", ";"), ("tab", "\t")])
def test_delimiters_are_detected(_case, delimiter):
    rows = [["Name", "Email", "Notes"], ["Ada", "a@example.com", "likes, commas; and more"]]

    info, columns, read_rows = read(csv_bytes(rows, delimiter=delimiter))

    assert (info.delimiter, columns, read_rows) == (delimiter, rows[0], [rows[1]])


@pytest.mark.parametrize("_case, newline", [("CRLF", "\r\n"), ("LF", "\n"), ("CR", "\r")])
def test_line_endings_and_quoted_newlines(_case, newline):
    rows = [["Name", "Notes"], ["Ada", f"first line{newline}second line"], ["Bob", "x"]]

    assert read(csv_bytes(rows, newline=newline))[2] == rows[1:]


def test_xlsx_cells_read_as_text_with_numbers_kept_whole():
    content = xlsx_bytes([["Name", "Phone", "Score"], ["Ada", 12125550101, 1.5], [None, None]])

    info, columns, rows = read(content, ".xlsx")

    assert (info.file_format, columns, rows) == ("xlsx", ["Name", "Phone", "Score"],
                                                 [["Ada", "12125550101", "1.5"]])


@pytest.mark.parametrize("_case, content, code", [
    ("empty", b"", "empty"),
    ("blank", b"  \r\n", "empty"),
    ("old excel", b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "unsupported"),
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00\x00", "unsupported"),
])
def test_files_that_are_not_csv_or_xlsx_are_refused(_case, content, code):
    with pytest.raises(ValidationFailed) as caught:
        inspect_file(write_file(content))
    assert caught.value.errors[0].code == code


def test_salesforce_lead_export_headers_are_mapped():
    columns = ["Salutation", "First Name", "Last Name", "Title", "Company / Account", "Email",
               "Phone", "Mobile", "Lead Source", "Lead Status", "Country", "Time Zone",
               "Lead Owner"]

    assert dict(zip(columns, suggest(columns), strict=True)) == {
        "Salutation": "", "First Name": "first_name", "Last Name": "last_name", "Title": "",
        "Company / Account": "company", "Email": "email", "Phone": "phone1",
        "Mobile": "phone2", "Lead Source": "source", "Lead Status": "stage",
        "Country": "country", "Time Zone": "timezone", "Lead Owner": "",
    }


def test_hubspot_contact_export_headers_are_mapped():
    columns = ["Record ID", "First Name", "Last Name", "Email", "Phone Number",
               "Mobile Phone Number", "Company Name", "Lead Status", "Original Source",
               "Country/Region", "Preferred language", "Lifecycle Stage"]

    assert dict(zip(columns, suggest(columns), strict=True)) == {
        "Record ID": "", "First Name": "first_name", "Last Name": "last_name",
        "Email": "email", "Phone Number": "phone1", "Mobile Phone Number": "phone2",
        "Company Name": "company", "Lead Status": "stage", "Original Source": "source",
        "Country/Region": "country", "Preferred language": "language", "Lifecycle Stage": "",
    }


def test_an_explicit_mapping_overrides_a_suggestion_for_the_same_field():
    columns = ["Full Name", "Nickname", "Email", "Cell", "Notes"]

    targets = apply_mapping(columns, suggest(columns),
                            {"Nickname": "name", "Notes": "custom.notes", "Cell": "phone"})

    assert targets == ["", "name", "email", "phone1", "custom.notes"]


@pytest.mark.parametrize("_case, mapping, field, code", [
    ("unknown field", {"Email": "favourite_colour"}, "mapping.Email", "unknown_field"),
    ("unknown column", {"Fax": "phone1"}, "mapping.Fax", "unknown_column"),
    ("no way to reach", {"Email": ""}, "mapping", "required"),
    ("twice", {"Other": "name", "Full Name": "name"}, "mapping.Other", "duplicate"),
])
def test_bad_mappings_are_refused(_case, mapping, field, code):
    columns = ["Full Name", "Email", "Other"]
    with pytest.raises(ValidationFailed) as caught:
        apply_mapping(columns, suggest(columns), mapping)
    assert [(e.field, e.code) for e in caught.value.errors] == [(field, code)]


def test_a_messy_windows_export_imports_as_expected():
    project = make_project(default_region="DE")
    rows = [["Vorname", "Nachname", "E-Mail", "Telefon", "Land", "Time Zone"],
            ["Zoë", "Dupré", "zoe@example.com", "030 1234567", "Germany",
             "(GMT+01:00) Central European Time (Europe/Berlin)"],
            ["Jean", "Müller", "", "", "Atlantis", ""]]
    content = csv_bytes(rows, delimiter=";", encoding="cp1252")

    imp = run(project, content, filename="export.csv")

    assert (imp.encoding, imp.delimiter) == ("cp1252", ";")
    assert counts(imp) == {"created": 1, "rejected": 1}
    zoe = Lead.objects.get(project=project)
    assert (zoe.name, zoe.country, zoe.timezone) == ("Zoë Dupré", "DE", "Europe/Berlin")
    assert zoe.phones == ["+49301234567"]
    assert imp.warnings == {"Unknown country 'Atlantis' left blank.": 1}
