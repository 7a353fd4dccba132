#!/usr/bin/env python
"""Normalization micro-benchmark: CPU time per normalize_email and normalize_phone call.

    python bench/normalize.py [--inputs 20000] [--rounds 5] [--seed 1]

Builds a seeded, realistic mix of what imports and intake forms bring in (mostly plain
addresses and phones as people type them in a handful of regions, with some unicode,
extensions and garbage), checks that leadflow's functions give exactly the libraries'
answers on it, then times both over the whole mix in interleaved rounds so drift in the
machine falls on both sides alike. "library" is the plain email-validator / phonenumbers
call the functions used before their fast paths; "leadflow" is the current function. The
figure is the median over the rounds of this thread's CPU time per call, which other work
on the machine does not inflate.

Importing leadflow turns on phonenumbers' pattern cache for the whole process, so the
library figures are measured with it too (with many regions, the plain library is slower).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import phonenumbers  # noqa: E402
from email_validator import EmailNotValidError, validate_email  # noqa: E402
from phonenumbers import PhoneNumberFormat, PhoneNumberType  # noqa: E402

from leadflow.core.normalize import InvalidValue, normalize_email, normalize_phone  # noqa: E402

FIRST = ["anna", "Ben", "carla", "DAVID", "eva", "frank", "guel", "hans", "ines", "jose", "Kim"]
LAST = ["smith", "Mueller", "rossi", "dupont", "garcia", "o'neil", "kowalski", "nguyen", "lee"]
DOMAINS = ["gmail.com", "Gmail.com", "yahoo.co.uk", "outlook.com", "acme-corp.com", "web.de",
           "orange.fr", "libero.it", "uol.com.br", "bigpond.com.au", "sub.example.org", "GMX.DE"]
INTERNATIONAL = ["jürgen@web.de", "anna@bücher.de", "info@例え.jp", "ben@xn--bcher-kva.de"]
BAD_EMAILS = ["n/a", "none", "anna.smith@", "anna smith@gmail.com", "anna..smith@gmail.com",
              "anna@gmail", "anna@gmail.com.", "@gmail.com", "anna(at)gmail.com"]
PHONE_REGIONS = [("US", 40), ("GB", 15), ("DE", 10), ("FR", 10), ("IT", 5), ("IN", 5),
                 ("BR", 5), ("AU", 5), ("CA", 5)]
BAD_PHONES = ["n/a", "call me", "12345", "555-1234 ext 12", "+1 (415) 555-2671 x12",
              "0800 FLOWERS", "tel:+1-415-555-2671", "+", "0"]


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--inputs", type=int, default=20_000, help="e-mails and phones in the mix")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args(argv)


def library_email(raw: str) -> str:
    """normalize_email as a plain email-validator call."""
    try:
        return validate_email((raw or "").strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise InvalidValue("invalid_email", str(exc))


def library_phone(raw: str, region: str | None) -> str:
    """normalize_phone as plain phonenumbers calls."""
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
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def email_mix(rng: random.Random, size: int) -> list[tuple[str, str]]:
    """(group, address): 92% plain ASCII addresses, 3% internationalized, 5% not addresses."""
    mix = []
    for _ in range(size):
        roll = rng.random()
        if roll < 0.05:
            mix.append(("other", rng.choice(BAD_EMAILS)))
        elif roll < 0.08:
            mix.append(("other", rng.choice(INTERNATIONAL)))
        else:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            local = rng.choice([f"{first}.{last}", f"{first}{rng.randint(1, 99)}",
                                f"{first[0]}{last}", f"{first}+news", "info"])
            address = f"{local}@{rng.choice(DOMAINS)}"
            mix.append(("plain", f" {address} " if rng.random() < 0.05 else address))
    return mix


def phone_mix(rng: random.Random, size: int) -> list[tuple[str, str, str | None]]:
    """(group, phone, region): real-looking numbers of the project regions in the usual
    notations (95%), and garbage, extensions and letters (5%)."""
    regions = [region for region, weight in PHONE_REGIONS for _ in range(weight)]
    mix = []
    for _ in range(size):
        region = rng.choice(regions)
        if rng.random() < 0.05:
            mix.append(("other", rng.choice(BAD_PHONES), region))
            continue
        kind = rng.choice([PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE])
        example = phonenumbers.example_number_for_type(region, kind)
        nsn = phonenumbers.national_significant_number(example)
        nsn = nsn[:-4] + "".join(rng.choice("0123456789") for _ in range(4))
        number = phonenumbers.parse("+" + str(example.country_code) + nsn)
        mix.append(("plain", *written(rng, number, region)))
    return mix


def written(rng: random.Random, number, region: str) -> tuple[str, str | None]:
    """One number as a person might type it, with the region it is read in."""
    form = rng.choice(["national", "national", "international", "e164", "idd", "dotted"])
    if form == "national":
        return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL), region
    if form == "international":
        return phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), None
    if form == "e164":
        return phonenumbers.format_number(number, PhoneNumberFormat.E164), region
    if form == "idd":
        text = phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL)
        return "00" + text[1:], region
    text = phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
    return text.replace(" ", ".").replace("(", "").replace(")", ""), region


def outcome(function: Callable, *args):
    try:
        return function(*args)
    except InvalidValue as exc:
        return (exc.code, exc.message)


def cpu_us_per_call(function: Callable, inputs: list[tuple]) -> float:
    """This thread's CPU time per call over all inputs, in microseconds."""
    start = time.thread_time()
    for args in inputs:
        outcome(function, *args)
    return (time.thread_time() - start) / len(inputs) * 1e6


def compare(name: str, before: Callable, after: Callable, mix: list[tuple], rounds: int):
    """Check identical answers, then time both in interleaved rounds and print the medians
    for the whole mix and for each group of it."""
    inputs = [args for _, *args in mix]
    differing = [args for args in inputs if outcome(before, *args) != outcome(after, *args)]
    if differing:
        raise SystemExit(f"{name}: {len(differing)} inputs differ, e.g. {differing[:3]}")
    groups = {"all": inputs}
    for group, *args in mix:
        groups.setdefault(group, []).append(args)
    times = {(group, side): [] for group in groups for side in ("library", "leadflow")}
    for _ in range(rounds):
        for group, part in groups.items():
            times[group, "library"].append(cpu_us_per_call(before, part))
            times[group, "leadflow"].append(cpu_us_per_call(after, part))
    for group, part in groups.items():
        library = statistics.median(times[group, "library"])
        leadflow = statistics.median(times[group, "leadflow"])
        print(f"{name:6} {group:6} {len(part):6} inputs  library {library:6.2f} µs/call  "
              f"leadflow {leadflow:6.2f} µs/call  x{library / leadflow:4.1f}")


def main(argv=None) -> int:
    args = parse_args(argv)
    rng = random.Random(args.seed)
    emails = email_mix(rng, args.inputs)
    phones = phone_mix(rng, args.inputs)
    print(f"median of {args.rounds} rounds, this thread's CPU time per call")
    compare("email", library_email, normalize_email, emails, args.rounds)
    compare("phone", library_phone, normalize_phone, phones, args.rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
