"""Reading a submission's raw payload into lead input. Unknown fields stay in the raw payload;
only the fields below, and the project's custom fields, are read."""

from __future__ import annotations

from typing import Any

from leadflow.core.errors import FieldError
from leadflow.crm.contact import LeadInput

TEXT_FIELDS = ("email", "company", "country", "language", "timezone", "affiliate_id")
UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
PHONE_FIELDS = ("phone", "mobile", "phone1", "phone2", "phone3", "phone4", "phone5")


def _text(raw: dict, key: str, errors: list[FieldError]) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool | dict | list):
        errors.append(FieldError(key, "invalid", f"{key} must be text."))
        return None
    return str(value)


def read_custom(raw: dict[str, Any], fields) -> dict[str, Any]:
    """The values of the project's custom fields (`fields`, definitions) in a payload: in a
    `custom` object, or at the top level under the field's name (the object wins). Other names
    are not read: they stay in the raw payload."""
    names = [f.name for f in fields]
    nested = raw.get("custom") if isinstance(raw.get("custom"), dict) else {}
    values = {}
    for name in names:
        if name in nested:
            values[name] = nested[name]
        elif name in raw:
            values[name] = raw[name]
    return values


def read_payload(raw: dict[str, Any], fields=()) -> tuple[LeadInput, list[FieldError]]:
    """Lead input from a payload: `name` or `first_name` + `last_name`; `email`; `phones` (a
    list) or `phone`/`mobile`/`phone1`…`phone5`; `company`, `country`, `language`, `timezone`;
    `affiliate_id`; `utm` (an object) or `utm_source`… fields; the custom fields of `fields`
    (see `read_custom`)."""
    errors: list[FieldError] = []
    name = _text(raw, "name", errors) or _text(raw, "full_name", errors)
    if not name:
        parts = [_text(raw, "first_name", errors), _text(raw, "last_name", errors)]
        name = " ".join(p.strip() for p in parts if p and p.strip())
    phones: list[str] = []
    listed = raw.get("phones")
    if isinstance(listed, list):
        phones.extend(str(p) for p in listed if p is not None and not isinstance(p, dict | list))
    elif listed is not None:
        errors.append(FieldError("phones", "invalid", "phones must be a list."))
    for key in PHONE_FIELDS:
        value = _text(raw, key, errors)
        if value and value.strip():
            phones.append(value)
    values = {key: _text(raw, key, errors) for key in TEXT_FIELDS}
    utm: dict[str, str] = {}
    if isinstance(raw.get("utm"), dict):
        utm.update({str(k)[:50]: str(v)[:200] for k, v in raw["utm"].items() if v is not None})
    for key in UTM_FIELDS:
        value = _text(raw, key, errors)
        if value:
            utm[key.removeprefix("utm_")] = value[:200]
    data = LeadInput(
        name=name or "",
        email=values["email"],
        phones=phones,
        company=values["company"],
        country=values["country"],
        language=values["language"],
        timezone=values["timezone"],
        affiliate_id=(values["affiliate_id"] or "")[:100],
        utm=utm,
        custom=read_custom(raw, fields),
    )
    return data, errors


def normalized_values(data: LeadInput, cleaned: dict, bucket) -> dict:
    """The payload as read (or, when it was valid, as normalized) for the bucket table, with
    the affiliate ID the lead gets: the payload's, else the bucket's."""
    values = {
        "name": data.name, "email": data.email, "phones": data.phones, "company": data.company,
        "country": data.country, "language": data.language, "timezone": data.timezone,
    }
    values.update(cleaned)
    custom = cleaned.get("custom") if cleaned else data.custom
    values.pop("custom", None)
    if custom:
        values["custom"] = custom
    affiliate_id = data.affiliate_id or bucket.affiliate_id
    return values | {"affiliate_id": affiliate_id, "utm": data.utm}
