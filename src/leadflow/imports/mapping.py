"""Header mapping: which lead field each file column fills, suggested from the header names of
common exports (Salesforce and HubSpot lead and contact exports included), and turning one row
into a lead's input (normalization runs here, in worker processes for big files)."""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass

from leadflow.core.errors import ErrorCollector, ValidationFailed
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import MAX_PHONES

PHONES = [f"phone{i}" for i in range(1, MAX_PHONES + 1)]
FIELDS = ["name", "first_name", "last_name", "email", *PHONES, "company", "timezone",
          "country", "language", "source", "stage"]
FIELD_LABELS = {
    "name": "Name", "first_name": "First name", "last_name": "Last name", "email": "E-mail",
    **{p: f"Phone {p[-1]}" for p in PHONES}, "company": "Company", "timezone": "Time zone",
    "country": "Country", "language": "Language", "source": "Source",
    "stage": "Stage (lead status)",
}
ALIASES = {"status": "stage", "full_name": "name", "mobile": "phone", "time_zone": "timezone"}
CUSTOM_PREFIX = "custom."
_CUSTOM_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_ -]{0,99}$")

# Folded header (lower case, letters and digits only) → field.
SUGGESTIONS: dict[str, str] = {}
for _field, _headers in {
    "name": ["name", "fullname", "leadname", "contactname", "contact", "customername",
             "clientname", "personname"],
    "first_name": ["firstname", "first", "givenname", "forename", "fname", "vorname",
                   "prenom"],
    "last_name": ["lastname", "last", "surname", "familyname", "lname", "nachname", "nom"],
    "email": ["email", "emailaddress", "mail", "workemail", "primaryemail", "businessemail",
              "personalemail", "emailid", "correo"],
    "phone": ["phone", "phonenumber", "mobile", "mobilephone", "mobilephonenumber",
              "mobilenumber", "cell", "cellphone", "cellphonenumber", "telephone", "tel",
              "telephonenumber", "workphone", "homephone", "otherphone", "businessphone",
              "directphone", "whatsapp", "whatsappnumber", "phone1", "phone2", "phone3",
              "phone4", "phone5", "telefon", "telefono"],
    "company": ["company", "companyname", "account", "accountname", "companyaccount",
                "organization", "organisation", "organizationname", "business", "firma",
                "employer"],
    "timezone": ["timezone", "tz", "timezonename", "leadtimezone", "contacttimezone"],
    "country": ["country", "countrycode", "countryregion", "countryname", "mailingcountry",
                "billingcountry", "land", "pais"],
    "language": ["language", "preferredlanguage", "lang", "locale", "languagecode"],
    "source": ["leadsource", "source", "originalsource", "sourcechannel", "channel",
               "contactsource"],
    "stage": ["leadstatus", "status", "stage", "leadstage"],
}.items():
    for _header in _headers:
        SUGGESTIONS[_header] = _field


def fold_header(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", (header or "").casefold())


def suggest(columns: list[str], fields=()) -> list[str]:
    """The suggested field of each column ("" when none): phones fill phone1–phone5 in column
    order, and every field but the phones is suggested once (its first column). A column named
    like one of the project's custom fields (`fields`, by name or label) fills that field."""
    custom = {}
    for definition in fields:
        for name in (definition.label, definition.name):
            custom.setdefault(fold_header(name), f"{CUSTOM_PREFIX}{definition.name}")
    targets, used, phones = [], set(), iter(PHONES)
    for column in columns:
        field = custom.get(fold_header(column)) or SUGGESTIONS.get(fold_header(column), "")
        if field == "phone":
            field = next(phones, "")
        elif field in used:
            field = ""
        if field:
            used.add(field)
        targets.append(field)
    return targets


def check_target(target: str) -> str | None:
    """The field a mapping target names (aliases resolved), or None when it names none."""
    target = (target or "").strip()
    if target.startswith(CUSTOM_PREFIX):
        name = target[len(CUSTOM_PREFIX):].strip()
        return f"{CUSTOM_PREFIX}{name}" if _CUSTOM_NAME.match(name) else None
    target = ALIASES.get(target.lower(), target.lower())
    if target in ("", "ignore", "none", "-"):
        return ""
    if target == "phone" or target in FIELDS:
        return target
    return None


def apply_mapping(columns: list[str], suggested: list[str], mapping: dict | None,
                  fields=None) -> list[str]:
    """The targets to use: the suggestions, overridden by `mapping` (column → field; a blank
    field leaves the column out). Raises ValidationFailed (field `mapping.<column>`) for an
    unknown column or field (with `fields`, a custom field must be one of them), a field given
    twice, or no e-mail or phone column at all."""
    defined = None if fields is None else {f"{CUSTOM_PREFIX}{d.name}" for d in fields}
    targets = list(suggested)
    errors = ErrorCollector()
    for column, target in (mapping or {}).items():
        if not isinstance(column, str) or not isinstance(target, str | type(None)):
            errors.add("mapping", "invalid", "The mapping maps column names to field names.")
            continue
        if column not in columns:
            errors.add(f"mapping.{column}", "unknown_column", f"No column '{column}' in the file.")
            continue
        field = check_target(target or "")
        if field and defined is not None and field.startswith(CUSTOM_PREFIX) \
                and field not in defined:
            errors.add(f"mapping.{column}", "unknown_field",
                       f"'{target}' is not a custom field of the project"
                       + (f": use one of {', '.join(sorted(defined))}." if defined else "."))
            continue
        if field is None:
            errors.add(f"mapping.{column}", "unknown_field",
                       f"'{target}' is not a field: use one of {', '.join(FIELDS)} or "
                       "custom.<name>.")
            continue
        targets[columns.index(column)] = field
    errors.raise_if_any()
    chosen = {columns.index(c) for c in (mapping or {}) if c in columns}
    for field in set(targets) - {"", "phone"}:
        places = [i for i, t in enumerate(targets) if t == field]
        if len(places) < 2:
            continue
        kept = [i for i in places if i in chosen]
        if len(kept) > 1:
            errors.add(f"mapping.{columns[kept[1]]}", "duplicate",
                       f"Field '{field}' is mapped from several columns.")
        for i in places:
            if i not in kept[:1] and (kept or i != places[0]):
                targets[i] = ""  # a suggestion gives way to the column chosen for the field
    free = iter([p for p in PHONES if p not in targets])
    for i, field in enumerate(targets):
        if field == "phone":
            targets[i] = next(free, "")
            if not targets[i]:
                errors.add(f"mapping.{columns[i]}", "too_many", f"At most {MAX_PHONES} phones.")
    if not any(t == "email" or t in PHONES for t in targets):
        errors.add("mapping", "required", "Map at least an e-mail or a phone column.")
    errors.raise_if_any()
    return targets


# --- one row → one lead input ---------------------------------------------------------------

_TIMEZONES = frozenset(zoneinfo.available_timezones())
_TZ_IN_TEXT = re.compile(r"[A-Za-z]+(?:/[A-Za-z0-9_+-]+)+")
COUNTRY_NAMES = {
    "unitedstates": "US", "unitedstatesofamerica": "US", "usa": "US", "america": "US",
    "unitedkingdom": "GB", "uk": "GB", "greatbritain": "GB", "england": "GB", "scotland": "GB",
    "wales": "GB", "germany": "DE", "deutschland": "DE", "france": "FR", "spain": "ES",
    "espana": "ES", "italy": "IT", "italia": "IT", "canada": "CA", "australia": "AU",
    "netherlands": "NL", "thenetherlands": "NL", "holland": "NL", "ireland": "IE",
    "mexico": "MX", "brazil": "BR", "brasil": "BR", "india": "IN", "switzerland": "CH",
    "austria": "AT", "osterreich": "AT", "belgium": "BE", "portugal": "PT", "poland": "PL",
    "sweden": "SE", "norway": "NO", "denmark": "DK", "finland": "FI", "japan": "JP",
    "china": "CN", "southafrica": "ZA", "newzealand": "NZ", "singapore": "SG",
    "unitedarabemirates": "AE", "uae": "AE", "israel": "IL", "argentina": "AR",
    "chile": "CL", "colombia": "CO", "greece": "GR", "czechrepublic": "CZ", "czechia": "CZ",
    "romania": "RO", "hungary": "HU", "turkey": "TR", "turkiye": "TR", "cyprus": "CY",
    "malta": "MT", "luxembourg": "LU",
}


def _country(value: str) -> str | None:
    """An ISO 3166 code for a code or a common English name; None when unknown."""
    import phonenumbers

    text = value.strip()
    if len(text) == 2 and text.upper() in phonenumbers.SUPPORTED_REGIONS:
        return text.upper()
    return COUNTRY_NAMES.get(fold_header(text.replace("&", "and")))


def _timezone(value: str) -> str | None:
    """An IANA zone, also found inside Salesforce's "(GMT-08:00) Pacific Standard Time
    (America/Los_Angeles)"; None when there is none."""
    text = value.strip()
    if text in _TIMEZONES:
        return text
    for candidate in _TZ_IN_TEXT.findall(text):
        if candidate in _TIMEZONES:
            return candidate
    return None


@dataclass(frozen=True)
class RowPlan:
    """What normalizing a row needs, picklable for worker processes: the targets per column,
    the project (id and phone region), the e-mail key options and the field definitions."""

    targets: tuple[str, ...]
    project_id: int
    region: str
    duplicate_scope: str
    email_ignore_plus: bool
    email_ignore_gmail_dots: bool
    # The project's field definitions (model instances pickle with their values), so a worker
    # validates custom values and derives custom keys without a query.
    fields: tuple = ()


@dataclass
class RowResult:
    """One normalized row: `cleaned` values and duplicate `keys`, or `reason` when rejected;
    the raw `source` and `stage` values (matched to the project's later) and warnings."""

    cleaned: dict | None = None
    custom: dict | None = None
    keys: list | None = None
    reason: str = ""
    source: str = ""
    stage: str = ""
    warnings: tuple = ()
    words: list | None = None  # the lead's search words


def row_input(cells: list[str], targets) -> tuple[LeadInput, str, str, list[str]]:
    """The lead input a row gives, with its raw source and stage values and warnings."""
    values: dict[str, str] = {}
    phones: list[str] = []
    custom: dict[str, str] = {}
    for field, cell in zip(targets, cells, strict=False):
        if not field:
            continue
        cell = cell.strip()
        if field.startswith(CUSTOM_PREFIX):
            if cell:
                custom[field[len(CUSTOM_PREFIX):]] = cell
        elif field in PHONES:
            if cell:
                phones.append(cell)
        else:
            values[field] = cell
    warnings = []
    name = values.get("name", "")
    if not name:
        name = " ".join(p for p in (values.get("first_name", ""), values.get("last_name", ""))
                        if p)
    timezone = values.get("timezone", "")
    if timezone:
        found = _timezone(timezone)
        if found is None:
            warnings.append(f"Unknown time zone '{timezone[:60]}' left blank.")
        timezone = found or ""
    country = values.get("country", "")
    if country:
        found = _country(country)
        if found is None:
            warnings.append(f"Unknown country '{country[:60]}' left blank.")
        country = found or ""
    data = LeadInput(
        name=name, email=values.get("email") or None, phones=phones or None,
        company=values.get("company") or None, timezone=timezone or None,
        country=country or None, language=values.get("language") or None, custom=custom,
    )
    return data, values.get("source", ""), values.get("stage", ""), warnings


_CONTEXT: dict = {}


def _context(plan: RowPlan):
    """The project and settings objects validation takes, built once per process (no query:
    the values travel in the plan)."""
    key = (plan.project_id, plan.region, plan.duplicate_scope, plan.email_ignore_plus,
           plan.email_ignore_gmail_dots)
    if _CONTEXT.get("key") != key:
        from leadflow.projects.models import Project, SystemSettings

        _CONTEXT.update(
            key=key, project=Project(pk=plan.project_id, default_region=plan.region),
            settings=SystemSettings(duplicate_scope=plan.duplicate_scope,
                                    email_ignore_plus=plan.email_ignore_plus,
                                    email_ignore_gmail_dots=plan.email_ignore_gmail_dots),
        )
    return _CONTEXT["project"], _CONTEXT["settings"]


def normalize_row(cells: list[str], plan: RowPlan) -> RowResult:
    """Validate and normalize one row as ingest does (`validate_input`, `derive_keys`)."""
    from leadflow.intake.keys import derive_keys
    from leadflow.intake.services.ingest import lead_words, validate_input

    project, settings = _context(plan)
    data, source, stage, warnings = row_input(cells, plan.targets)
    try:
        cleaned = validate_input(project, data, list(plan.fields))
    except ValidationFailed as exc:
        reason = "; ".join(f"{e.field}: {e.message}" if e.field else e.message
                           for e in exc.errors)
        return RowResult(reason=reason, source=source, stage=stage, warnings=tuple(warnings))
    keys = derive_keys(cleaned.get("email", ""), cleaned.get("phones", []), settings,
                       cleaned["custom"], plan.fields)
    return RowResult(cleaned=cleaned, custom=cleaned.get("custom", data.custom), keys=keys,
                     source=source, stage=stage, warnings=tuple(warnings),
                     words=lead_words(cleaned))


def normalize_rows(rows: list[tuple[int, list[str]]], plan: RowPlan) -> list[RowResult | None]:
    """A chunk of (row number, cells): blank rows give None. Run in worker processes."""
    return [normalize_row(cells, plan) if cells else None for _number, cells in rows]
