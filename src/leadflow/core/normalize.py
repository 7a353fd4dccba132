"""Normalization of contact data: e-mail keys, E.164 phones, search words."""

from __future__ import annotations

import unicodedata

import phonenumbers
from email_validator import EmailNotValidError, validate_email

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_email(raw: str) -> str:
    """A syntactically valid address, trimmed, with the domain lower-cased (no DNS)."""
    value = (raw or "").strip()
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue("invalid_email", str(exc))
    return result.normalized


def email_key(email: str, *, ignore_plus: bool = False, ignore_gmail_dots: bool = False) -> str:
    """The duplicate key of an address: case-folded, optionally without +tag and Gmail dots."""
    local, _, domain = email.strip().casefold().rpartition("@")
    if ignore_plus and "+" in local:
        local = local.split("+", 1)[0]
    if ignore_gmail_dots and domain in GMAIL_DOMAINS:
        local = local.replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def normalize_phone(raw: str, region: str | None) -> str:
    """E.164 form of a phone; national numbers are read with the project's default region."""
    value = (raw or "").strip()
    if not value:
        raise InvalidValue("required", "Phone number is empty.")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else (region or None))
    except phonenumbers.NumberParseException:
        raise InvalidValue("invalid_phone", f"'{raw}' is not a phone number.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("invalid_phone", f"'{raw}' is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_search_prefix(raw: str, region: str | None) -> str:
    """The E.164 prefix a partial phone search stands for ('020 79' → '+4420 79' digits)."""
    digits = "".join(ch for ch in raw if ch.isdigit())
    if raw.strip().startswith("+"):
        return "+" + digits
    if raw.strip().startswith("00"):
        return "+" + digits[2:]
    if region:
        code = phonenumbers.country_code_for_region(region.upper())
        if code:
            # Only the region's own trunk prefix is dropped: Italy keeps its leading 0,
            # Hungary's trunk prefix is 06, the US has none starting with 0.
            metadata = phonenumbers.PhoneMetadata.metadata_for_region(region.upper())
            trunk = (metadata.national_prefix if metadata else None) or ""
            national = digits[len(trunk):] if trunk and digits.startswith(trunk) else digits
            return f"+{code}{national}"
    return "+" + digits.lstrip("0")


def fold(text: str) -> str:
    """Lower-case, accents removed: the form names are searched in."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()


def search_words(*texts: str) -> str:
    """Space-separated folded words of the texts, for the search index."""
    words: list[str] = []
    for text in texts:
        current = []
        for ch in fold(text):
            if ch.isalnum():
                current.append(ch)
            elif current:
                words.append("".join(current))
                current = []
        if current:
            words.append("".join(current))
    return " ".join(words)
