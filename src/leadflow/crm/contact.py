"""Validation and normalization of a lead's contact fields, shared by every way in."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from typing import Any

import phonenumbers

from leadflow.core.errors import ErrorCollector
from leadflow.core.normalize import InvalidValue, normalize_email, normalize_phone
from leadflow.crm.models import MAX_PHONES

CONTACT_FIELDS = ("name", "email", "phones", "company", "timezone", "country", "language")
LIMITS = {"name": 200, "email": 254, "company": 200, "language": 16, "timezone": 64}
_TIMEZONES = frozenset(zoneinfo.available_timezones())


@dataclass
class LeadInput:
    """Contact and attribution values as given by a caller, before validation."""

    name: str | None = None
    email: str | None = None
    phones: list[str] | None = None
    company: str | None = None
    timezone: str | None = None
    country: str | None = None
    language: str | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    affiliate_id: str = ""
    utm: dict[str, Any] = field(default_factory=dict)

    def given(self) -> dict[str, Any]:
        """The contact fields the caller actually sent (None means not sent)."""
        return {k: getattr(self, k) for k in CONTACT_FIELDS if getattr(self, k) is not None}


def clean_contact(
    values: dict[str, Any], *, region: str, errors: ErrorCollector
) -> dict[str, Any]:
    """Normalized contact values; problems are added to `errors` with field names and codes."""
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        if key == "phones":
            cleaned["phones"] = _clean_phones(value, region, errors)
            continue
        text = ("" if value is None else str(value)).strip()
        limit = LIMITS.get(key)
        if limit and len(text) > limit:
            errors.add(key, "too_long", f"At most {limit} characters.")
            continue
        if "\x00" in text:
            # PostgreSQL text cannot hold NUL; SQLite would store it silently.
            errors.add(key, "invalid", "Text cannot contain a NUL character.")
            continue
        if key == "email" and text:
            try:
                text = normalize_email(text)
            except InvalidValue as exc:
                errors.add("email", exc.code, exc.message)
                continue
        elif key == "timezone" and text and text not in _TIMEZONES:
            errors.add("timezone", "invalid", f"'{text}' is not an IANA time zone.")
            continue
        elif key == "country" and text:
            text = text.upper()
            if text not in phonenumbers.SUPPORTED_REGIONS:
                errors.add("country", "invalid", f"'{text}' is not an ISO 3166 country code.")
                continue
        cleaned[key] = text
    if "name" in cleaned and not cleaned["name"]:
        errors.add("name", "required", "Name is required.")
    return cleaned


def _clean_phones(value: Any, region: str, errors: ErrorCollector) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.add("phones", "invalid", "Phones must be a list.")
        return []
    raw = [str(v) for v in value if str(v).strip()]
    if len(raw) > MAX_PHONES:
        errors.add("phones", "too_many", f"At most {MAX_PHONES} phones.")
        return []
    phones: list[str] = []
    for index, item in enumerate(raw):
        try:
            e164 = normalize_phone(item, region)
        except InvalidValue as exc:
            errors.add(f"phones[{index}]", exc.code, exc.message)
            continue
        if e164 not in phones:
            phones.append(e164)
    return phones


def require_reachable(cleaned: dict[str, Any], errors: ErrorCollector) -> None:
    """A lead needs an e-mail or a phone."""
    reported = any(e.field == "email" or e.field.startswith("phones") for e in errors.errors)
    if not cleaned.get("email") and not cleaned.get("phones") and not reported:
        errors.add("email", "required", "An e-mail or a phone is required.")
