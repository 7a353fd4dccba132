"""Custom field values: validation and normalization against a project's field definitions,
shared by every way a lead's custom fields are set (intake, web form, manual creation, edit)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from leadflow.core.errors import ErrorCollector
from leadflow.core.normalize import InvalidValue, normalize_email, normalize_phone
from leadflow.projects.models import FieldDefinition, FieldType

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,49}$")
# Names a payload or a lead body already reads: a custom field of that name could never be
# told apart from them in an intake payload.
RESERVED_NAMES = frozenset({
    "id", "name", "full_name", "first_name", "last_name", "email", "phones", "phone", "mobile",
    "phone1", "phone2", "phone3", "phone4", "phone5", "company", "timezone", "country",
    "language", "affiliate_id", "utm", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content", "custom", "form", "project", "source", "owner", "pool", "stage", "status",
    "bucket", "client", "list", "tags", "on_duplicate", "created_at", "updated_at",
    # the public web form's own fields
    "message", "website",
})
TEXT_LIMIT = 1000
MAX_CHOICES = 100
CHOICE_LIMIT = 100
NUMBER_LIMIT = 2**63
DECIMAL_DIGITS = 30
TRUE_WORDS = frozenset({"true", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "off"})
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INTEGER = re.compile(r"^[+-]?\d+$")


def definitions_of(project_id: int) -> list[FieldDefinition]:
    """A project's field definitions in their order."""
    return list(FieldDefinition.objects.filter(project_id=project_id).order_by("position", "id"))


def is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def normalize_value(definition: FieldDefinition, value: Any, *, region: str) -> Any:
    """The stored form of `value` for `definition` (None for a blank value): text as given
    (trimmed), number an int, decimal a canonical string ("12.5"), date an ISO date, boolean
    a bool, e-mail normalized, phone E.164 read with `region`, choice one of the choices as
    spelled in the definition. Raises InvalidValue."""
    if is_blank(value):
        return None
    if isinstance(value, str):
        value = value.strip()
    kind = definition.type
    if isinstance(value, dict | list):
        raise InvalidValue("invalid", "A single value is expected.")
    if kind == FieldType.TEXT:
        return _text(value)
    if kind == FieldType.NUMBER:
        return _number(value)
    if kind == FieldType.DECIMAL:
        return _decimal(value)
    if kind == FieldType.DATE:
        return _date(value)
    if kind == FieldType.BOOLEAN:
        return _boolean(value)
    if kind == FieldType.EMAIL:
        return normalize_email(_text(value))
    if kind == FieldType.PHONE:
        return normalize_phone(_text(value), region)
    if kind == FieldType.CHOICE:
        return _choice(definition, value)
    raise InvalidValue("invalid", f"Unknown field type '{kind}'.")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        raise InvalidValue("invalid", "Text is expected.")
    text = str(value).strip()
    if len(text) > TEXT_LIMIT:
        raise InvalidValue("too_long", f"At most {TEXT_LIMIT} characters.")
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL; SQLite would store it silently.
        raise InvalidValue("invalid", "Text cannot contain a NUL character.")
    return text


def _number(value: Any) -> int:
    if isinstance(value, bool):
        raise InvalidValue("invalid_number", "A whole number is expected.")
    if isinstance(value, float):
        if not value.is_integer():
            raise InvalidValue("invalid_number", "A whole number is expected.")
        value = int(value)
    elif isinstance(value, str):
        if not _INTEGER.match(value):
            raise InvalidValue("invalid_number", f"'{value[:50]}' is not a whole number.")
        value = int(value)
    elif not isinstance(value, int):
        raise InvalidValue("invalid_number", "A whole number is expected.")
    if not -NUMBER_LIMIT <= value < NUMBER_LIMIT:
        raise InvalidValue("out_of_range", "The number is too large.")
    return value


def _decimal(value: Any) -> str:
    if isinstance(value, bool):
        raise InvalidValue("invalid_decimal", "A number is expected.")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise InvalidValue("invalid_decimal", f"'{str(value)[:50]}' is not a number.")
    if not number.is_finite():
        raise InvalidValue("invalid_decimal", "A finite number is expected.")
    if len(number.as_tuple().digits) > DECIMAL_DIGITS or abs(number.adjusted()) > DECIMAL_DIGITS:
        raise InvalidValue("out_of_range", f"At most {DECIMAL_DIGITS} digits.")
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if not _DATE.match(text):
        raise InvalidValue("invalid_date", f"'{text[:50]}' is not a date (YYYY-MM-DD).")
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise InvalidValue("invalid_date", f"'{text}' is not a date.")


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    word = str(value).strip().casefold()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidValue("invalid_boolean", "true or false is expected.")


def _choice(definition: FieldDefinition, value: Any) -> str:
    text = _text(value)
    for choice in definition.choices:
        if choice.casefold() == text.casefold():
            return choice
    offered = ", ".join(definition.choices)
    raise InvalidValue("invalid_choice", f"'{text[:100]}' is not one of: {offered}.")


def clean_custom(
    values: dict[str, Any] | None, definitions: list[FieldDefinition], *, region: str,
    errors: ErrorCollector, creating: bool,
) -> dict[str, Any]:
    """Normalized custom values of `values`, by field name; a blank value given is None (the
    field is cleared). Unknown names, bad values and, when `creating` (or clearing), missing
    required fields are added to `errors` as `custom.<name>`."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        errors.add("custom", "invalid", "Custom fields must be an object.")
        return {}
    by_name = {d.name: d for d in definitions}
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        definition = by_name.get(name)
        if definition is None:
            errors.add(f"custom.{name}"[:120], "unknown_field",
                       f"No custom field '{str(name)[:50]}' in this project.")
            continue
        try:
            cleaned[name] = normalize_value(definition, value, region=region)
        except InvalidValue as exc:
            errors.add(f"custom.{name}", exc.code, f"{definition.label}: {exc.message}")
    for definition in definitions:
        if definition.nullable:
            continue
        missing = (creating and cleaned.get(definition.name) is None) or (
            definition.name in cleaned and cleaned[definition.name] is None
        )
        reported = any(e.field == f"custom.{definition.name}" for e in errors.errors)
        if missing and not reported:
            errors.add(f"custom.{definition.name}", "required",
                       f"{definition.label} is required.")
    return cleaned


def stored(cleaned: dict[str, Any]) -> dict[str, Any]:
    """What a new lead keeps of cleaned values: blank values are not stored."""
    return {name: value for name, value in cleaned.items() if value is not None}


def display_value(definition: FieldDefinition, value: Any) -> str:
    """A stored value as people read it."""
    if value is None:
        return ""
    if definition.type == FieldType.BOOLEAN:
        return "Yes" if value else "No"
    return str(value)
