"""Normalization of contact data: e-mail keys, E.164 phones, search words.

`normalize_email` and `normalize_phone` run for every lead on every way in, imports of a
million rows included, so each has a fast path for the common plain shapes. A fast path
returns exactly what the library would and answers only when it is sure; anything else
(unicode, quoting, extensions, letters, unusual prefixes, errors it cannot name) goes to
the library unchanged.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

import phonenumbers
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from email_validator.rfc_constants import CASE_INSENSITIVE_MAILBOX_NAMES
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS, PhoneMetadata
from phonenumbers import phonenumberutil as _util
from phonenumbers.phonemetadata import REGION_CODE_FOR_NON_GEO_ENTITY

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})

# phonenumbers compiles its metadata patterns through re's bounded cache; with numbers from
# many regions (and the rest of the process using re) they fall out of it and are compiled
# again on every call. Versions without this switch simply keep doing that.
if hasattr(phonenumbers, "enable_pattern_cache"):
    phonenumbers.enable_pattern_cache()


class InvalidValue(ValueError):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def normalize_email(raw: str) -> str:
    """A syntactically valid address, trimmed, with the domain lower-cased (no DNS)."""
    value = (raw or "").strip()
    if isinstance(value, str):
        fast = _plain_email(value)
        if fast is not None:
            return fast
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidValue("invalid_email", str(exc))
    return result.normalized


# A dot-atom local part (RFC 5322 atext) and a domain of LDH labels, each 1-63 characters,
# starting and ending with a letter or digit, whose last label ends with a letter.
_ATEXT = r"[a-zA-Z0-9_!#$%&'*+\-/=?^`{|}~]"
_PLAIN_EMAIL = re.compile(
    rf"({_ATEXT}+(?:\.{_ATEXT}+)*)@"
    r"((?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+"
    r"(?:[a-zA-Z0-9][a-zA-Z0-9-]{0,61})?[a-zA-Z])"
)
_SPECIAL_USE_DOMAINS = frozenset(SPECIAL_USE_DOMAIN_NAMES)
_SPECIAL_USE_SUFFIXES = tuple("." + name for name in SPECIAL_USE_DOMAIN_NAMES)
_CASE_INSENSITIVE_MAILBOXES = frozenset(CASE_INSENSITIVE_MAILBOX_NAMES)


def _plain_email(value: str) -> str | None:
    """email-validator's normalized form of a plain ASCII address, or None when not sure.

    Within this shape the library keeps the local part as typed (lower-casing only the
    RFC 2142 role names such as info@), lower-cases the domain and rejects only special-use
    domains; longer local parts (its strict limit), any "--" (Punycode, R-LDH labels) and
    addresses over 254 characters are left to it.
    """
    if len(value) > 254:
        return None
    match = _PLAIN_EMAIL.fullmatch(value)
    if match is None:
        return None
    local, domain = match.groups()
    if len(local) > 64:
        return None
    domain = domain.lower()
    if "--" in domain or domain in _SPECIAL_USE_DOMAINS or domain.endswith(_SPECIAL_USE_SUFFIXES):
        return None
    if local.lower() in _CASE_INSENSITIVE_MAILBOXES:
        local = local.lower()
    return f"{local}@{domain}"


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
    parse_region = None if value.startswith("+") else (region or None)
    plain = _parse_plain_phone(value, parse_region)
    if plain is None:
        return _normalize_phone_by_library(raw, value, parse_region)
    country_code, national = plain
    if not _validator_for_country_code(country_code)(national):
        raise InvalidValue("invalid_phone", f"'{raw}' is not a valid phone number.")
    return f"+{country_code}{national}"


def _normalize_phone_by_library(raw: str, value: str, region: str | None) -> str:
    """E.164 form of any input, through phonenumbers' own parse and validation."""
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidValue("invalid_phone", f"'{raw}' is not a phone number.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidValue("invalid_phone", f"'{raw}' is not a valid phone number.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# Digits with at most a leading "+" and the usual punctuation: in this shape phonenumbers
# finds no extension, letters or RFC 3966 parts, and reads the number from its digits alone.
_PLAIN_PHONE = re.compile(r"\+?[0-9 ().\-]+")
_PHONE_PUNCTUATION = str.maketrans("", "", "+ ().-")
_LENGTHS_KEEPING_PREFIX = (
    phonenumbers.ValidationResult.TOO_SHORT,
    phonenumbers.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumbers.ValidationResult.INVALID_LENGTH,
)


def _parse_plain_phone(value: str, region: str | None) -> tuple[int, str] | None:
    """(country code, national significant number) as phonenumbers.parse reads a plain
    number, or None when the input is not plain or parse would raise.

    Country-code, IDD and national-prefix rules come from the library's metadata and
    helpers; only its text scanning (extraction, extensions, digit normalization) is
    skipped, as it changes nothing in this shape.
    """
    if len(value) > 64 or _PLAIN_PHONE.fullmatch(value) is None:
        return None
    digits = value.translate(_PHONE_PUNCTUATION)
    if not 3 <= len(digits) <= 20:
        return None
    if value[0] == "+" and region is None:
        country_code, national = _util._extract_country_code(digits)
        metadata = None
    elif value[0] != "+" and region in SUPPORTED_REGIONS:
        metadata = PhoneMetadata.metadata_for_region(region)
        split = _split_default_country_code(digits, metadata)
        if split is None:
            return None
        country_code, national = split
    else:
        return None
    if country_code:
        number_region = _util.region_code_for_country_code(country_code)
        if number_region != region:
            metadata = _metadata_for(country_code, number_region)
    elif metadata is None:
        return None
    else:
        country_code, national = metadata.country_code, digits
    return _strip_national_prefix(country_code, national, metadata)


def _split_default_country_code(digits: str, metadata) -> tuple[int, str] | None:
    """The region's own country code and the rest when a national number starts with it
    (0 and "" when it does not), or None when it starts with an international prefix."""
    idd = metadata.international_prefix
    if idd is not None and _compiled(idd).match(digits):
        return None
    if not digits.startswith(str(metadata.country_code)):
        return 0, ""
    return _util._maybe_extract_country_code(digits, metadata, False, phonenumbers.PhoneNumber())


def _strip_national_prefix(country_code: int, national: str, metadata) -> tuple[int, str] | None:
    """The national number without its trunk prefix where parse drops it.

    The library's stripping changes nothing unless the region's prefix pattern matches the
    start of the number, so it runs only then.
    """
    if len(national) < 2:
        return None
    prefix = metadata.national_prefix_for_parsing
    if prefix and _compiled(prefix).match(national):
        _, stripped, _ = _util._maybe_strip_national_prefix_carrier_code(national, metadata)
        if _util._test_number_length(stripped, metadata) not in _LENGTHS_KEEPING_PREFIX:
            national = stripped
    if not 2 <= len(national) <= 17:
        return None
    return country_code, national


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    """A metadata pattern compiled once (there are a few thousand of them)."""
    return re.compile(pattern)


@functools.lru_cache(maxsize=512)
def _validator_for_country_code(country_code: int) -> Callable[[str], bool]:
    """phonenumbers.is_valid_number for the national numbers of one country code.

    As the library does, the number belongs to the first region of the code whose leading
    digits match it or, for regions without leading digits, whose types it matches; it is
    then valid if it matches a type of that region.
    """
    regions = COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if regions is None:
        return _never
    if len(regions) == 1:
        return _validator_for_region(country_code, regions[0])
    candidates = []
    for region_code in regions:
        metadata = PhoneMetadata.metadata_for_region(region_code.upper(), None)
        if metadata is None:
            continue
        leading = None if metadata.leading_digits is None else _compiled(metadata.leading_digits)
        candidates.append(
            (
                leading,
                _type_matcher_for(country_code, region_code),
                _validator_for_region(country_code, region_code),
            )
        )

    def is_valid(national: str) -> bool:
        for leading, matches_type, is_valid_for_region in candidates:
            if leading is not None:
                if leading.match(national):
                    return is_valid_for_region(national)
            elif matches_type(national):
                # The region's own validation is this same type test, passed just now.
                return is_valid_for_region is matches_type or is_valid_for_region(national)
        return False

    return is_valid


def _validator_for_region(country_code: int, region_code: str) -> Callable[[str], bool]:
    """phonenumbers.is_valid_number_for_region for national numbers of a country code."""
    if _metadata_for(country_code, region_code.upper()) is None:
        return _never
    geographic = region_code != REGION_CODE_FOR_NON_GEO_ENTITY
    if geographic and country_code != _util.country_code_for_valid_region(region_code):
        return _never
    return _type_matcher_for(country_code, region_code)


@functools.lru_cache(maxsize=512)
def _type_matcher_for(country_code: int, region_code: str) -> Callable[[str], bool]:
    """The type test of a region's metadata, one per region."""
    return _type_matcher(_metadata_for(country_code, region_code.upper()))


def _metadata_for(country_code: int, region_code: str):
    """The metadata of a region, or of a non-geographic country code for region "001"."""
    return PhoneMetadata.metadata_for_region_or_calling_code(country_code, region_code)


def _type_matcher(metadata) -> Callable[[str], bool]:
    """Whether a national number has a known type in the metadata (the library's
    _number_type_helper is not UNKNOWN): it matches the general description and one of
    the type descriptions, mobile counting only when its pattern differs from fixed line.

    The type patterns that apply to a length are joined into one alternation, which
    matches a whole number exactly when one of them does.
    """
    types = [
        metadata.premium_rate,
        metadata.toll_free,
        metadata.shared_cost,
        metadata.voip,
        metadata.personal_number,
        metadata.pager,
        metadata.uan,
        metadata.voicemail,
        metadata.fixed_line,
    ]
    if not metadata.same_mobile_and_fixed_line_pattern:
        types.append(metadata.mobile)
    by_length = {
        length: (
            _any_of_patterns([metadata.general_desc], length),
            _any_of_patterns(types, length),
        )
        for length in range(2, 18)
    }

    def matches(national: str) -> bool:
        general, of_type = by_length.get(len(national), (None, None))
        if general is None or of_type is None or general.fullmatch(national) is None:
            return False
        return of_type.fullmatch(national) is not None

    return matches


def _any_of_patterns(descs: list, length: int) -> re.Pattern[str] | None:
    """One pattern for the descriptions a national number of this length is checked
    against (those with a pattern whose possible lengths are unset or include it), or
    None when there are none."""
    patterns = sorted(
        {
            desc.national_number_pattern
            for desc in descs
            if desc is not None
            and desc.national_number_pattern
            and (not desc.possible_length or length in desc.possible_length)
        }
    )
    if not patterns:
        return None
    return _compiled("|".join(f"(?:{pattern})" for pattern in patterns))


def _never(national: str) -> bool:
    """The validator of a country code or region without metadata."""
    return False


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
