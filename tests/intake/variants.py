"""A generated evaluation set for duplicate detection: people with known identity, submitted
in the spellings real intake sees. Used by the quality test and `bench/dedup_quality.py`."""

from __future__ import annotations

import random
from dataclasses import dataclass

FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William "
         "Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew "
         "Lisa Anthony Betty Mark Sandra Donald Ashley Steven Kimberly Andrew Emily Paul Donna "
         "Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy "
         "Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Dorothy").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
        "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
        "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
        "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
        "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes"
        " Stewart").split()
COMPANIES = ("Northwind|Contoso|Fabrikam|Globex|Initech|Umbrella|Stark Logistics|Wayne Capital|"
             "Acme|Vandelay|Hooli|Pied Piper|Soylent|Wonka|Tyrell|Cyberdyne|Aperture|Gringotts|"
             "Oscorp|Massive Dynamic|Dunder Mifflin|Prestige Worldwide|Sterling Cooper").split("|")
AREAS = ["212", "312", "415", "646", "702", "305", "617", "206", "404", "503"]


@dataclass
class Person:
    key: int
    first: str
    last: str
    company: str
    email: str
    digits: str  # ten national digits, e.g. 2125550123


@dataclass
class Item:
    person: int
    payload: dict
    first_of_person: bool


def _people(rng: random.Random, count: int) -> list[Person]:
    people = []
    for key in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(["example.com", "example.org", "example.net"])
        email = f"{first[0]}{last}.{key}@{domain}"
        digits = f"{rng.choice(AREAS)}555{key % 10000:04d}"
        people.append(Person(key, first, last, rng.choice(COMPANIES), email.lower(), digits))
    return people


def phone_spellings(digits: str) -> list[str]:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return [f"+1{digits}", f"({a}) {b}-{c}", f"+1 {a} {b} {c}", f"001{digits}", f"{a}.{b}.{c}",
            f"1-{a}-{b}-{c}", f"+1-{a}-{b}-{c}", digits]


def email_spellings(email: str) -> list[str]:
    return [email, email.upper(), f"  {email} ", email.capitalize(),
            email.split("@")[0] + "@" + email.split("@")[1].upper()]


def typo(rng: random.Random, word: str) -> str:
    """One keyboard slip: a dropped, doubled or swapped letter (never the first)."""
    if len(word) < 4:
        return word + word[-1]
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["drop", "double", "swap"])
    if kind == "drop":
        return word[:i] + word[i + 1:]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + word[i + 1] + word[i] + word[i + 2:]


def exact_set(seed: int, people: int) -> list[Item]:
    """Each person submitted with e-mail and phone, then 0-4 times again in other spellings of
    the same e-mail and/or phone (sometimes only one of the two, sometimes with a name typo)."""
    rng = random.Random(seed)
    queues: list[list[Item]] = []
    for p in _people(rng, people):
        items = [Item(p.key, {"name": f"{p.first} {p.last}", "email": p.email,
                              "phone": f"+1{p.digits}", "company": p.company}, True)]
        queues.append(items)
        for _ in range(rng.randint(0, 4)):
            payload: dict = {"first_name": p.first, "last_name": p.last}
            if rng.random() < 0.2:
                payload["last_name"] = typo(rng, p.last)
            shape = rng.choice(["both", "email", "phone"])
            if shape in ("both", "email"):
                payload["email"] = rng.choice(email_spellings(p.email))
            if shape in ("both", "phone"):
                payload["phone"] = rng.choice(phone_spellings(p.digits))
            items.append(Item(p.key, payload, False))
    # Interleave people at random while each person's own submissions keep their order: the
    # first one carries both e-mail and phone, as a real first registration would.
    stream: list[Item] = []
    while queues:
        queue = rng.choice(queues)
        stream.append(queue.pop(0))
        if not queue:
            queues.remove(queue)
    return stream


def typo_twins(seed: int, people: int) -> tuple[list[dict], set[tuple[int, int]]]:
    """People entered twice with a name typo and new contact details (no key in common), among
    others with unrelated or merely alike names. Returns payloads and the index pairs that are
    one person."""
    rng = random.Random(seed)
    payloads: list[dict] = []
    truth: set[tuple[int, int]] = set()
    for p in _people(rng, people):
        payloads.append({"name": f"{p.first} {p.last}", "company": p.company,
                         "email": f"a{p.key}.{p.last.lower()}@example.com"})
        if rng.random() < 0.5:
            first, last = p.first, p.last
            if rng.random() < 0.5:
                last = typo(rng, last)
            else:
                first = typo(rng, first)
            payloads.append({"name": f"{first} {last}", "company": p.company,
                             "email": f"b{p.key}.{p.last.lower()}@example.org"})
            truth.add((len(payloads) - 2, len(payloads) - 1))
    return payloads, truth


def precision_recall(tp: int, fp: int, fn: int) -> tuple[float, float]:
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall
