"""normalize_email and normalize_phone answer exactly as the libraries do, fast paths included.

Each test builds a seeded corpus of valid, near-valid and hostile inputs and compares every
outcome (the normalized value, or the error code and message) with email-validator and
phonenumbers called directly.
"""

import random

import email_validator
import phonenumbers
import pytest
from phonenumbers import PhoneNumberFormat, PhoneNumberType

from leadflow.core.normalize import (
    InvalidValue,
    _parse_plain_phone,
    _plain_email,
    normalize_email,
    normalize_phone,
)

ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_!#$%&'*+-/=?^`{|}~"
LDH = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
TLDS = ["com", "com", "org", "net", "DE", "co.uk", "io", "travel"]
ODD_TLDS = ["xn--p1ai", "c0m", "123", "a", "x-y", "-x", "localhost", "local", "test", "invalid",
            "onion", "arpa", "home.arpa", "example", ""]
ROLE_NAMES = ["info", "INFO", "Support", "postmaster", "WebMaster", "noc", "abuse", "infos"]
EMAIL_NOISE = ["é", "ü", "ß", "İ", "ﬁ", "\u0301", "\u200b", "\u00a0", "＠", "．", "。", " ", '"',
               "\\", "<", ">", "(", ")", ",", ";", ":", "[", "]", "@", ".", "..", "-", "--",
               "xn--", "\t", "\n", "\x00", "Ω", "😀", "中"]
PHONE_REGIONS = ["US", "GB", "DE", "FR", "IT", "IN", "BR", "AU", None]
PHONE_TYPES = [PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.TOLL_FREE,
               PhoneNumberType.PREMIUM_RATE, PhoneNumberType.VOIP, PhoneNumberType.UAN]
PHONE_NOISE = [" ", "-", ".", "(", ")", "+", "00", "0", "/", "x", "ext. 12", "#", ";", ",",
               "a", "tel:", "*", "\u00a0", "１", "٣", "(0)", "  ", "+1", "011"]
ALL_REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)


def reference_email(value):
    """The original normalize_email: email-validator's normalized form, trimmed input."""
    try:
        return email_validator.validate_email(
            (value or "").strip(), check_deliverability=False
        ).normalized
    except email_validator.EmailNotValidError as exc:
        return ("invalid_email", str(exc))


def reference_phone(raw, region):
    """The original normalize_phone: phonenumbers parse, is_valid_number, E.164."""
    value = (raw or "").strip()
    if not value:
        return ("required", "Phone number is empty.")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        number = phonenumbers.parse(value, None if value.startswith("+") else (region or None))
    except phonenumbers.NumberParseException:
        return ("invalid_phone", f"'{raw}' is not a phone number.")
    if not phonenumbers.is_valid_number(number):
        return ("invalid_phone", f"'{raw}' is not a valid phone number.")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def outcome(function, *args):
    try:
        return function(*args)
    except InvalidValue as exc:
        return (exc.code, exc.message)


def random_label(rng):
    """Mostly a plain label; sometimes hyphens anywhere or a length near the 63 limit."""
    if rng.random() < 0.8:
        return "".join(rng.choice(ALNUM) for _ in range(rng.randint(1, 12)))
    return "".join(rng.choice(LDH) for _ in range(rng.choice([1, 2, 4, rng.randint(60, 64)])))


def random_email(rng):
    """A plain address, often then damaged the ways real input is."""
    atoms = ["".join(rng.choice(ATEXT) for _ in range(rng.randint(1, 12)))
             for _ in range(rng.choice([1, 1, 2, 3]))]
    local = rng.choice([".".join(atoms)] * 6 + [rng.choice(ROLE_NAMES), "a" * rng.randint(60, 70),
                        '"' + " ".join(atoms) + '"', "." + ".".join(atoms), ".".join(atoms) + "."])
    labels = [random_label(rng) for _ in range(rng.choice([0, 1, 1, 1, 2, 3]))]
    domain = ".".join([*labels, rng.choice(TLDS if rng.random() < 0.9 else ODD_TLDS)])
    if rng.random() < 0.05:
        domain = "x" * rng.randint(240, 256) + ".com"
    if rng.random() < 0.03:
        domain = rng.choice(["[192.168.0.1]", "[IPv6:2001:db8::1]", "[300.1.1.1]", "[1.2.3]"])
    address = f"{local}@{domain}"
    for _ in range(rng.choice([0, 0, 0, 0, 1, 2])):
        at = rng.randint(0, len(address))
        address = address[:at] + rng.choice(EMAIL_NOISE) + address[at:]
    if rng.random() < 0.2:
        address = address.upper() if rng.random() < 0.5 else address.lower()
    if rng.random() < 0.05:
        address = f"Some Name <{address}>"
    if rng.random() < 0.1:
        address = rng.choice([" ", "\t", "\n", " \u3000"]) + address + rng.choice(["", " ", "."])
    return address


def email_corpus(size):
    rng = random.Random(20240601)
    fixed = ["", None, "a@b.co", "John.Doe@Example.COM", "x@localhost", "x@a.b.c.local",
             "x@example.test", "x@b..com", "x@-b.com", "x@b-.com", "x@b.com.", ".x@b.com",
             "x.@b.com", "x@b.c0m", "x@b.1", "x@com", "x@ab--c.com", "x@a--b.com",
             "x@xn--bcher-kva.ch", "x@XN--BCHER-KVA.CH", "INFO@Example.com", "a" * 64 + "@b.co",
             "a" * 65 + "@b.co", "a@" + "b" * 63 + ".com", "a@" + "b" * 64 + ".com",
             "a" * 64 + "@" + ".".join(["b" * 60] * 3) + ".com", '"a b"@c.com', "a@[1.2.3.4]",
             "ǅ@b.com", "a@b.com\n", "  a@b.com  ", "a@b@c.com", "a@ b.com"]
    return fixed + [random_email(rng) for _ in range(size)]


def example_phones():
    """Every region's example numbers of the common types, as (number, region) pairs."""
    numbers = []
    for region in ALL_REGIONS:
        for kind in PHONE_TYPES:
            number = phonenumbers.example_number_for_type(region, kind)
            if number is not None:
                numbers.append((number, region))
    for code in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS:
        number = phonenumbers.example_number_for_non_geo_entity(code)
        if number is not None:
            numbers.append((number, None))
    return numbers


def random_phone(rng, examples):
    """A phone as people type one: an example number, formatted, mutated, punctuated."""
    number, home = rng.choice(examples)
    form = rng.choice([PhoneNumberFormat.NATIONAL, PhoneNumberFormat.INTERNATIONAL,
                       PhoneNumberFormat.E164, PhoneNumberFormat.NATIONAL])
    text = phonenumbers.format_number(number, form)
    digits = list(text)
    for _ in range(rng.choice([0, 0, 1, 2])):
        at = rng.randrange(len(digits))
        if digits[at].isdigit():
            digits[at] = rng.choice("0123456789")
    text = "".join(digits)
    if rng.random() < 0.1:
        text = text.replace("+", rng.choice(["00", "", "011 ", "+ "]), 1)
    if rng.random() < 0.1:
        text = text[:-1] if rng.random() < 0.5 else text + rng.choice("0123456789")
    for _ in range(rng.choice([0, 0, 0, 1, 2])):
        at = rng.randint(0, len(text))
        text = text[:at] + rng.choice(PHONE_NOISE) + text[at:]
    if rng.random() < 0.1:
        text = rng.choice([" ", "\t", "(", "."]) + text + rng.choice(["", " ", ")", "."])
    region = rng.choice([home, home, rng.choice(PHONE_REGIONS), rng.choice(ALL_REGIONS), "us"])
    return text, region


def random_digits(rng):
    """Digits of any length with a random region: mostly garbage, sometimes a number."""
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 22)))
    prefix = rng.choice(["", "", "+", "00", "0", "(", "1 "])
    return prefix + digits, rng.choice(PHONE_REGIONS + ALL_REGIONS[:40])


def phone_corpus(size):
    rng = random.Random(20240602)
    examples = example_phones()
    fixed = [("", "US"), (None, "US"), ("   ", "GB"), ("(415) 555-2671", "US"),
             ("415-555-2671", "US"), ("+1 415 555 2671", "US"), ("14155552671", "US"),
             ("00 44 20 7946 0958", "GB"), ("020 7946 0958", "GB"), ("030 12345678", "DE"),
             ("01 23 45 67 89", "FR"), ("02 1234 5678", "IT"), ("98765 43210", "IN"),
             ("91234 56789", "IN"), ("(11) 91234-5678", "BR"), ("02 9374 4000", "AU"),
             ("4165551234", "CA"), ("011 44 20 7946 0958", "US"), ("+800 1234 5678", None),
             ("+44 (0) 20 7946 0958", None), ("12", "US"), ("1-2", "US"), ("+12", None),
             ("+0 123 456", None), ("0044 1534 456789", None), ("+7 701 234 5678", None),
             ("hello", "US"), ("1" * 40, "US"), ("1" * 300, "US"), ("+1 (415) 555-2671 x99", "US"),
             ("415 555 2671", None), ("415 555 2671", "ZZ"), ("415 555 2671", "us")]
    corpus = fixed + [random_phone(rng, examples) for _ in range(size * 3 // 4)]
    return corpus + [random_digits(rng) for _ in range(size // 4)]


@pytest.fixture(scope="module")
def emails():
    return email_corpus(25_000)


@pytest.fixture(scope="module")
def phones():
    return phone_corpus(30_000)


def test_normalize_email_answers_as_email_validator_for_every_input(emails):
    answers = [(value, outcome(normalize_email, value), reference_email(value)) for value in emails]

    mismatches = [answer for answer in answers if answer[1] != answer[2]]

    assert mismatches == []


def test_email_fast_path_answers_most_plain_addresses_and_never_a_rejected_one(emails):
    answered = [value for value in emails
                if isinstance(value, str) and _plain_email(value.strip()) is not None]

    assert all(isinstance(reference_email(value), str) for value in answered)
    assert len(answered) > len(emails) // 4


def test_normalize_phone_answers_as_phonenumbers_for_every_input(phones):
    answers = [(raw, region, outcome(normalize_phone, raw, region), reference_phone(raw, region))
               for raw, region in phones]

    mismatches = [answer for answer in answers if answer[2] != answer[3]]

    assert mismatches == []


def test_phone_fast_path_reads_most_plain_numbers(phones):
    read = 0
    for raw, region in phones:
        value = (raw or "").strip()
        if value.startswith("00"):
            value = "+" + value[2:]
        if value and _parse_plain_phone(value, None if value[0] == "+" else (region or None)):
            read += 1

    assert read > len(phones) // 2
