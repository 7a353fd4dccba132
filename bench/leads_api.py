#!/usr/bin/env python
"""Leads API benchmark: load N realistic leads, then time GET /api/v1/leads.

    python bench/leads_api.py --database sqlite [--leads 1000000] [--reload] [--explain]
    python bench/leads_api.py --database postgres --url postgres://postgres@127.0.0.1:5432/bench_leads

The database lives under var/bench/<database>/ (SQLite) or in the given PostgreSQL database, whose
name must start with `bench_` because a fresh load drops and recreates it. A database that already
holds the bench project with exactly --leads leads is reused, so re-runs only measure.

Loading: the project, a manager, an admin and the agents are created through the services; the
leads, their canonical duplicate keys (e-mail and phones) and their search words are generated
from a seeded random source and written in bulk (executemany in one transaction on SQLite, COPY on
PostgreSQL) with the secondary indexes dropped and rebuilt afterwards, then the statistics are
gathered (ANALYZE; VACUUM ANALYZE on PostgreSQL).

Measuring: each case runs 3 warm-up requests, then --requests timed requests through Django's
test client (in process: URL routing, middleware, bearer-token authentication, serialization),
varying the query value between requests. Latency is wall time of `client.get`; the query count is
every SQL statement the request ran.
"""

from __future__ import annotations

import argparse
import functools
import gc
import itertools
import json
import math
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCH_HOME = ROOT / "var" / "bench"
DEFAULT_PG_URL = "postgres://postgres@127.0.0.1:5432/bench_leads"
PROJECT_SLUG = "bench"
BATCH = 50_000
# Fixed end of the loaded year, so a seed always yields the same rows.
END = datetime(2026, 11, 1, tzinfo=UTC)
YEAR = timedelta(days=365)

# p95 targets of the issue, in ms.
TARGET_MS = 20.0
NAME_TARGET_MS = 50.0
MAX_QUERIES = 6

# --- realistic values ---------------------------------------------------------------------------


def words(text: str) -> list[str]:
    return text.split()


# Ordered roughly by frequency: weights fall off along the list (Zipf-like).
FIRST_NAMES = words("""
James Mary Michael Patricia Robert Jennifer John Linda David Elizabeth William Barbara Richard
Susan Joseph Jessica Thomas Sarah Christopher Karen Charles Lisa Daniel Nancy Matthew Betty
Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily Paul Donna Joshua Michelle
Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Ronald Dorothy Jason
Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia Jacob Amy Gary Kathleen Nicholas Angela Eric
Shirley Jonathan Brenda Stephen Emma Larry Anna Justin Pamela Scott Nicole Brandon Samantha
Benjamin Katherine Samuel Christine Gregory Helen Alexander Debra Patrick Rachel Frank Carolyn
Raymond Janet Jack Maria Dennis Olivia Jerry Heather Tyler Catherine Aaron Diane Jose Julie Adam
Victoria Nathan Joyce Henry Lauren Zachary Kelly Douglas Christina Peter Ruth Kyle Joan Noah
Virginia Ethan Judith Jeremy Evelyn Christian Hannah Walter Andrea Keith Megan Austin Cheryl Roger
Jacqueline Terry Madison Sean Teresa Gerald Abigail Carl Sophia Dylan Martha Harold Sara Jordan
Gloria Jesse Janice Bryan Kathryn Lawrence Ann Arthur Isabella Gabriel Judy Bruce Charlotte Logan
Julia Billy Grace Joe Amber Alan Alice Juan Denise Elijah Danielle Willie Marilyn Albert Beverly
Wayne Natalie Randy Theresa Mason Diana Vincent Brittany Liam Doris Roy Kayla Bobby Alexis Caleb
Lori Bradley Tiffany Russell Jean Lucas Kathy José María Sofía Lucía Müller Zoë Chloé Renée
André François Søren Björn Ana Luis Carlos Miguel Javier Sergio Diego Pablo Hugo Léa Manon
Camille Inès Jonas Lukas Leon Felix Finn Mia Lena Hanna Ahmed Mohamed Yusuf Omar Fatima Aisha
Wei Li Jun Hiroshi Yuki Kenji Priya Arjun Rahul Anjali Siddharth Olga Dmitri Ivan Natalia
""")

LAST_NAMES = words("""
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez
Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris
Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill
Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans
Turner Diaz Parker Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez
Ortiz Morgan Cooper Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks
Chavez Wood James Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers
Long Ross Foster Jimenez Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson
Barnes Gonzales Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds
Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar Stevens
Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington Kennedy Wells
Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson Porter Hunter Gordon
Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer Wagner Black Robertson Boyd
Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt Garza Daniels Ferguson Nichols Stephens
Soto Weaver Ryan Gardner Payne Grant Dunn Kelley Spencer Hawkins Arnold Pierce Vazquez Hansen
Peters Santos Hart Bradley Knight Elliott Cunningham Duncan Armstrong Hudson Carroll Lane Riley
Andrews Alvarado Ray Delgado Berry Perkins Hoffman Johnston Matthews Peña Richards Contreras
Willis Carpenter Lawrence Sandoval Guerrero George Chapman Rios Estrada Ortega Watkins Greene
Núñez Wheeler Valdez Harper Burke Larson Santiago Maldonado Morrison Franklin Carlson Austin
Dominguez Carr Lawson Jacobs O'Brien Lynch Singh Vega Bishop Montgomery Oliver Jensen Harvey
Williamson Gilbert Dean Sims Espinoza Howell Li Wong Reid Hanson Le McCoy Garrett Burton Fuller
Wang Weber Welch Rojas Lucas Marquez Fields Park Yang Little Banks Padilla Day Walsh Bowman Schultz
Luna Fowler Mejia Davidson Acosta Brewer May Holland Juarez Newman Pearson Curtis Cortez Douglas
Schneider Joseph Barrett Navarro Figueroa Keller Ávila Wade Molina Stanley Hopkins Campos Barnett
Bates Chambers Caldwell Beck Lambert Miranda Byrd Craig Ayala Lowe Frazier Powers Neal Leonard
Gregory Carrillo Sutton Fleming Rhodes Shelton Schwartz Norris Jennings Watts Duran Walters Cohen
McDaniel Moran Parks Steele Vaughn Becker Holt DeLeon Barker Terry Hale Leon Hail Benson Haynes
Horton Miles Lyons Pham Graves Bush Thornton Wolfe Warner Cabrera McKinney Mann Zimmerman Dawson
Lara Fletcher Page McCarthy Love Robles Cervantes Solis Erickson Reeves Chang Klein Salinas Fuentes
Baldwin Daniel Simon Velasquez Hardy Higgins Aguirre Lin Cummings Chandler Sharp Barber Bowen Ochoa
Dennis Robbins Liu Ramsey Francis Griffith Paul Blair O'Connor Cardenas Pacheco Cross Calderon
Quinn Moss Swanson Chan Rivas Khan Rodgers Serrano Fitzgerald Rosales Stevenson Christensen
Manning Gill Curry McLaughlin Harmon McGee Gross Doyle Garner Newton Burgess Reese Walton
Blake Trujillo Adkins Brady Goodman Roman Webster Goodwin Fischer Huang Potter Delacruz Montoya
Todd Wu Hines Mullins Castaneda Malone Cannon Tate Mack Sherman Hubbard Hodges Zhang Guerra Wolf
Valencia Saunders Franco Rowe Gallagher Farmer Hammond Hampton Townsend Ingram Wise Gallegos
Clarke Barton Schroeder Maxwell Waters Logan Camacho Strickland Norman Person Colón Parsons Frank
Harrington Glover Osborne Buchanan Casey Floyd Patton Ibarra Ball Tyler Suarez Bowers Orozco
Salas Cobb Gibbs Andrade Bauer Conner Moody Escobar McGuire Lloyd Mueller Hartman French Kramer
McBride Pope Lindsey Velazquez Norton McCormick Sparks Flynn Yates Hogan Marsh Macias Villanueva
Zamora Pratt Stokes Owen Ballard Lang Brock Villarreal Charles Drake Barrera Cain Patrick Piñeda
Burnett Mercado Santana Shepherd Bautista Ali Shaffer Lamb Trevino McKenzie Hess Beil Olsen
Cochran Morton Nash Wilkins Petersen Briggs Shah Roth Nicholson Holloway Lozano Rangel Flowers
Hoover Short Arias Mora Valenzuela Bryan Meyers Weiss Underwood Bass Greer Summers Houston Carson
Morrow Clayton Whitaker Decker Yoder Collier Zuniga Carey Wilcox Melendez Poole Roberson Larsen
Conley Davenport Copeland Massey Lam Huff Rocha Cameron Jefferson Hood Monroe Anthony Pittman
Huynh Randall Singleton Kirk Combs Mathis Christian Skinner Bradford Richard Galvan Wall Boone
Kirby Wilkinson Bridges Bruce Atkinson Velez Meza Roy Vincent York Hodge Villa Abbott Allison Tapia
Gates Chase Sosa Sweeney Farrell Wyatt Dalton Horn Barron Phelps Yu Dickerson Heath Foley Atkins
Mathews Bonilla Acevedo Benitez Zavala Hensley Glenn Cisneros Harrell Shields Rubio Huffman
Choi Boyer Garrison Arroyo Bond Kane Hancock Callahan Dillon Cline Wiggins Grimes Arellano Melton
O'Neill Savage Ho Beltran Pitts Parrish Ponce Rich Booth Koch Golden Ware Brennan McDowell
Marks Cantu Humphrey Baxter Sawyer Clay Tanner Hutchinson Kaur Berg Wiley Gilmore Russo Villegas
Hobbs Keith Wilkerson Ahmed Beard McClain Montes Mata Rosario Vang Walter Henson O'Neal Mosley
McClure Beasley Stephenson Snow Huerta Preston Vance Barry Johns Eaton Blackwell Dyer Prince
Macdonald Solomon Guevara Stafford English Hurst Woodard Cortes Shannon Kemp Nolan McCullough
Merritt Murillo Moon Salgado Strong Kline Cordova Barajas Roach Rosas Winters Jacobson Lester Knox
Bullock Kerr Leach Meadows Orr Davila Whitehead Pruitt Kent Conway McKee Barr David Dejesus Marin
Berger McIntyre Blankenship Gaines Palacios Cuevas Bartlett Durham Dorsey McCall O'Donnell
Stein Browning Stout Lowery Sloan McLean Hendricks Calhoun Sexton Chung Gentry Hull Duarte
Ellison Nielsen Gillespie Buck Middleton Sellers Leblanc Esparza Hardin Bradshaw McIntosh Howe
Livingston Frost Glass Morse Knapp Herman Stark Bravo Noble Spears Weeks Corona Frederick Buckley
McFarland Hebert Enriquez Hickman Quintero Randolph Schaefer Walls Trejo House Reilly Pennington
Michael Conrad Giles Benjamin Crosby Fitzpatrick Donovan Mays Mahoney Valentine Raymond Medrano
Hahn McMillan Small Bentley Felix Peck Lucero Boyle Hanna Pace Rush Hurley Harding McConnell
Bernal Nava Ayers Everett Ventura Avery Pugh Mayer Bender Shepard McMahon Landry Case Sampson
Moses Magana Blackburn Dunlap Gould Duffy Vaughan Herring McKay Espinosa Rivers Farley Bernard
Ashley Friedman Potts Truong Costa Correa Blevins Nixon Clements Fry Delarosa Best Benton Lugo
Portillo Dougherty Crane Haley Phan Villalobos Blanchard Horne Finley Quintana Lynn Esquivel
Bean Dodson Mullen Xiong Hayden Cano Levy Huber Richmond Moyer Lim Frye Sheppard McCarty Avalos
Booker Waller Parra Woodward Jaramillo Krueger Rasmussen Brandt Peralta Donaldson Stuart Faulkner
Maynard Galindo Coffey Estes Sanford Burch Maddox Vo O'Connell Vu Andersen Spence McPherson
Church Schmitt Stanton Leal Cherry Compton Dudley Sierra Pollard Alfaro Hester Proctor Lu Hinton
Novak Good Madden McCann Terrell Jarvis Dickson Reyna Cantrell Mayo Branch Hendrix Rollins Rowland
Whitney Duke Odom Daugherty Travis Tang Archer Müller Schäfer Kovačević Dvořák Łukasz Öztürk
Bergström Ødegaard Lefèvre Gauthier Béranger Ibáñez Sørensen Nowak Kowalski Wiśniewski Horváth
""")

# The long tail: half the leads carry one of these ~8,000 rarer surnames, the other half one of
# the common ones above, so the most common (Smith) is about 1.3% of leads, as in the US.
TAIL_STARTS = words("""
Ab Al Ash Bar Bel Bran Cal Car Dal Dun El Fair Fen Gar Hal Hart Ing Kel Kin Lang Lind Mar Mel
Nor Oak Pem Pen Quin Rad Ros Sal Sel Stan Tal Thorn Ul Van Wal Wel Win Yar
""")
TAIL_MIDDLES = ["", "a", "e", "en", "er", "i", "o", "ow"]
TAIL_ENDS = words("""
by bury dale field ford gate ham ley low man mont ner ridge ski sky son stead ton vich well wick
wood worth berg stein
""")
TAIL_NAMES = sorted({s + m + e for s in TAIL_STARTS for m in TAIL_MIDDLES for e in TAIL_ENDS})
TAIL_SHARE = 0.5

ADJECTIVES = words("""
Blue Green Red Silver Golden Bright North South East West Pacific Atlantic Summit Pioneer Prime
Apex Vertex Rapid Clear Bold Urban Rural Coastal Mountain River Lake Oak Pine Cedar Maple Iron
Stone Crystal Evergreen Sunrise Sunset Harbor Liberty Union Frontier Horizon Keystone Cornerstone
""")
NOUNS = words("""
River Ridge Valley Bridge Peak Field Point Bay Harbor Gate Path Forge Mill Works Tower Street
Park Grove Creek Falls Shore Port Crest Line Wave Stream Hill Rock Star Arrow Anchor Lantern
""")
SECTORS = words("""
Logistics Solutions Labs Systems Studio Foods Realty Media Health Energy Capital Works Dental
Construction Consulting Software Analytics Marketing Insurance Motors Partners Ventures Design
""")
SUFFIXES = ["LLC", "Inc", "Inc.", "Ltd", "Group", "Co", "Corp", "& Sons", "Holdings", "GmbH"]
MAIL_DOMAINS = [
    ("gmail.com", 40), ("yahoo.com", 9), ("outlook.com", 9), ("hotmail.com", 7),
    ("icloud.com", 5), ("aol.com", 2), ("proton.me", 2), ("gmx.de", 1), ("comcast.net", 1),
]
# Share of leads per status (the default pipeline has one stage per status).
STATUS_WEIGHTS = {
    "NOT_CONTACTED": 38, "CONTACTED": 24, "QUALIFIED": 12, "CONVERTED": 10, "LOST": 16,
}
LOST_REASONS = ["No budget", "Not interested", "Went with a competitor", "Unreachable", "Spam"]
SOURCE_WEIGHTS = {
    "Website": 35, "Referral": 10, "LinkedIn": 12, "Cold Call": 8, "Email": 10, "Event": 5,
    "Other": 4, "Manual": 6, "Import": 10,
}
COUNTRIES = [
    # country, weight, phone format (digits after +), timezones, language
    ("US", 80, None, ["America/New_York", "America/Chicago", "America/Denver",
                      "America/Los_Angeles", "America/Phoenix"], "en"),
    ("GB", 7, ("447", 9), ["Europe/London"], "en"),
    ("DE", 5, ("4915", 9), ["Europe/Berlin"], "de"),
    ("FR", 4, ("336", 8), ["Europe/Paris"], "fr"),
    ("ES", 4, ("3461", 7), ["Europe/Madrid"], "es"),
]
UTM = [
    {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"},
    {"utm_source": "facebook", "utm_medium": "paid_social", "utm_campaign": "spring-promo"},
    {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "monthly"},
    {"utm_source": "linkedin", "utm_medium": "social", "utm_campaign": "b2b"},
]


def zipf_weights(n: int, s: float = 0.9) -> list[float]:
    """Cumulative weights (for random.choices) falling off as 1/rank**s."""
    return list(itertools.accumulate(1.0 / (rank ** s) for rank in range(1, n + 1)))


def cumulative(weights) -> list[float]:
    return list(itertools.accumulate(weights))


# --- environment --------------------------------------------------------------------------------


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--database", choices=["sqlite", "postgres"], required=True)
    p.add_argument("--url", default=DEFAULT_PG_URL,
                   help="PostgreSQL URL; the database name must start with bench_")
    p.add_argument("--leads", type=int, default=1_000_000)
    p.add_argument("--agents", type=int, default=20)
    p.add_argument("--requests", type=int, default=50, help="timed requests per case")
    p.add_argument("--warmup", type=int, default=3, help="untimed requests per case")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--reload", action="store_true", help="drop and load the database again")
    p.add_argument("--explain", action="store_true", help="print the plan of each list query")
    p.add_argument("--json", type=Path,
                   help="where to write the results (default var/bench/<database>/results.json)")
    p.add_argument("--slowest", action="store_true", help="print the 3 slowest requests per case")
    return p.parse_args(argv)


def configure(args, name: str | None = None) -> Path:
    """Environment for leadflow.settings under var/bench/<name> (default: the database kind);
    must run before Django is imported."""
    home = BENCH_HOME / (name or args.database)
    (home / "static").mkdir(parents=True, exist_ok=True)  # WhiteNoise warns without it
    os.environ["LEADFLOW_HOME"] = str(home)
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "leadflow.settings"
    if args.database == "sqlite":
        os.environ["DATABASE_URL"] = f"sqlite:///{home / 'leadflow.sqlite3'}"
    else:
        name = urlsplit(args.url).path.lstrip("/")
        if not name.startswith("bench_"):
            sys.exit(f"refusing to use database '{name}': its name must start with bench_")
        os.environ["DATABASE_URL"] = args.url
    return home


def database_exists(args, home: Path) -> bool:
    if args.database == "sqlite":
        return (home / "leadflow.sqlite3").exists()
    import psycopg

    parts = urlsplit(args.url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [parts.path.lstrip("/")]
        ).fetchone()
    return row is not None


def recreate_database(args, home: Path) -> None:
    from django.db import connections

    connections.close_all()
    if args.database == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            (home / f"leadflow.sqlite3{suffix}").unlink(missing_ok=True)
        return
    import psycopg
    from psycopg import sql

    parts = urlsplit(args.url)
    name = parts.path.lstrip("/")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
        conn.execute(drop.format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def migrate() -> bool:
    """Apply pending migrations; True when there were some."""
    from django.core.management import call_command
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", verbosity=0, interactive=False)
    return bool(pending)


def log(message: str) -> None:
    print(message, flush=True)


# --- people -------------------------------------------------------------------------------------


@dataclass
class Cast:
    project: object
    admin: object
    manager: object
    agents: list = field(default_factory=list)


def create_cast(n_agents: int) -> Cast:
    """The project and its users, made through the services as an install would."""
    from leadflow.accounts.services import create_user, set_membership
    from leadflow.core.actor import Actor
    from leadflow.projects.services import create_project

    system = Actor(None, "cli")
    project = create_project("Bench", actor=system, slug=PROJECT_SLUG, default_region="US")
    admin = create_user("admin@bench.example", actor=system, name="Bench Admin", is_admin=True)
    manager = create_user("manager@bench.example", actor=system, name="Morgan Manager")
    set_membership(manager, project, "manager", actor=system)
    agents = []
    for i in range(1, n_agents + 1):
        agent = create_user(f"agent{i:02d}@bench.example", actor=system, name=f"Agent {i:02d}")
        set_membership(agent, project, "agent", actor=system)
        agents.append(agent)
    return Cast(project, admin, manager, agents)


def find_cast() -> Cast | None:
    from leadflow.accounts.models import User
    from leadflow.projects.models import Project

    project = Project.objects.filter(slug=PROJECT_SLUG).first()
    if project is None:
        return None
    users = {u.email: u for u in User.objects.filter(email__endswith="@bench.example")}
    agents = [u for email, u in sorted(users.items()) if email.startswith("agent")]
    if "admin@bench.example" not in users or "manager@bench.example" not in users:
        return None
    return Cast(project, users["admin@bench.example"], users["manager@bench.example"], agents)


# --- generation ---------------------------------------------------------------------------------


class LeadGenerator:
    """Deterministic rows of leads, duplicate keys and search words, in id (= time) order."""

    def __init__(self, seed: int, n: int, cast: Cast):
        from leadflow.core.normalize import fold
        from leadflow.crm.search import words_of
        from leadflow.intake.keys import scope_for
        from leadflow.projects.models import Pool, Source, Stage, SystemSettings

        self.rng = random.Random(seed)
        self.n = n
        project = cast.project
        self.project_id = project.pk
        self.scope = scope_for(project.pk, SystemSettings.load())
        self.pool_id = Pool.objects.get(project=project, is_default=True).pk
        self.stage_of = {s.status: s.pk for s in Stage.objects.filter(project=project)}
        sources = {s.name: s.pk for s in Source.objects.filter(project=project)}
        self.source_ids = [sources[name] for name in SOURCE_WEIGHTS]
        self.source_w = cumulative(SOURCE_WEIGHTS.values())
        self.statuses = list(STATUS_WEIGHTS)
        self.status_w = cumulative(STATUS_WEIGHTS.values())
        self.agent_ids = [a.pk for a in cast.agents]
        # Some agents carry more leads than others.
        self.agent_w = cumulative(1.0 + 0.15 * (i % 7) for i in range(len(self.agent_ids)))
        self.first_w = zipf_weights(len(FIRST_NAMES), 0.5)
        self.last_w = zipf_weights(len(LAST_NAMES), 0.6)
        self.domains = [d for d, _ in MAIL_DOMAINS]
        self.domain_w = cumulative(w for _, w in MAIL_DOMAINS)
        self.country_w = cumulative(c[1] for c in COUNTRIES)
        self.us_areas = self._us_area_codes()
        self.emails: set[str] = set()
        self.phones: set[str] = set()
        self.fold = fold
        self.words_of = functools.lru_cache(maxsize=200_000)(words_of)
        self.ascii = functools.lru_cache(maxsize=10_000)(
            lambda s: "".join(ch for ch in fold(s) if ch.isascii() and ch.isalnum())
        )
        self.next_lead = self.next_key = self.next_word = self.next_block = 1

    @staticmethod
    def _us_area_codes() -> list[int]:
        import phonenumbers as pn

        return [
            area for area in range(201, 990)
            if pn.is_valid_number(pn.parse(f"+1{area}2345678"))
        ]

    def _phone(self, country) -> str:
        import phonenumbers as pn

        rng = self.rng
        while True:
            if country[2] is None:
                area, exchange = rng.choice(self.us_areas), rng.randint(200, 999)
                digits = f"1{area}{exchange}{rng.randint(0, 9999):04d}"
            else:
                prefix, width = country[2]
                digits = f"{prefix}{rng.randrange(10 ** width):0{width}d}"
            number = "+" + digits
            if number in self.phones:
                continue
            if pn.is_valid_number(pn.parse(number)):
                self.phones.add(number)
                return number

    def _company(self, last: str) -> str:
        rng = self.rng
        roll = rng.random()
        if roll < 0.35:
            return ""
        if roll < 0.55:
            return f"{last} {rng.choice(SUFFIXES)}"
        if roll < 0.85:
            return f"{rng.choice(ADJECTIVES)} {rng.choice(NOUNS)} {rng.choice(SECTORS)}"
        return f"{rng.choice(ADJECTIVES)}{rng.choice(NOUNS).lower()} {rng.choice(SUFFIXES)}"

    def _email(self, first: str, last: str, company: str) -> str:
        rng = self.rng
        f, la = self.ascii(first), self.ascii(last)
        if company and rng.random() < 0.3:
            domain = self.ascii(company.rsplit(" ", 1)[0]) + ".com"
        else:
            domain = rng.choices(self.domains, cum_weights=self.domain_w)[0]
        style = rng.random()
        if style < 0.35:
            local = f"{f}.{la}"
        elif style < 0.5:
            local = f"{f}{la}"
        elif style < 0.65:
            local = f"{f[0]}{la}"
        elif style < 0.75:
            local = f"{f}_{la}"
        elif style < 0.9:
            local = f"{f}.{la}{rng.randint(1, 99)}"
        else:
            local = f"{f}{rng.randint(1950, 2006)}"
        if rng.random() < 0.05:
            local = local.capitalize()
        email = f"{local}@{domain}"
        n = 1
        while email.casefold() in self.emails:
            n += 1
            email = f"{local}{n}@{domain}"
        self.emails.add(email.casefold())
        return email

    def batches(self, size: int):
        """Yields (leads, keys, words, blocks) lists of tuples in the loaders' column order.
        Every lead is loaded as checked for possible duplicates, with its name blocks."""
        from leadflow.intake.services.duplicates import name_blocks

        rng = self.rng
        step = YEAR / self.n
        start = END - YEAR
        leads, keys, words, blocks = [], [], [], []
        for i in range(self.n):
            lead_id = self.next_lead
            self.next_lead += 1
            created = start + step * i + timedelta(microseconds=rng.randrange(
                max(1, int(step.total_seconds() * 1e6))))
            first = rng.choices(FIRST_NAMES, cum_weights=self.first_w)[0]
            last = (
                rng.choice(TAIL_NAMES) if rng.random() < TAIL_SHARE
                else rng.choices(LAST_NAMES, cum_weights=self.last_w)[0]
            )
            name = f"{first} {last}"
            company = self._company(last)
            country = rng.choices(COUNTRIES, cum_weights=self.country_w)[0]
            roll = rng.random()
            email = "" if roll < 0.05 else self._email(first, last, company)
            phones = []
            if email == "" or roll > 0.12:
                phones.append(self._phone(country))
                if rng.random() < 0.15:
                    phones.append(self._phone(country))
            status = rng.choices(self.statuses, cum_weights=self.status_w)[0]
            owner = (
                None if rng.random() < 0.12
                else rng.choices(self.agent_ids, cum_weights=self.agent_w)[0]
            )
            assigned_at = created + timedelta(minutes=rng.randint(1, 120)) if owner else None
            updated = min(END, created + timedelta(minutes=rng.randint(0, 60 * 24 * 30)))
            last_activity = (
                min(END, created + timedelta(hours=rng.randint(1, 24 * 60)))
                if status != "NOT_CONTACTED" else None
            )
            next_call = (
                END + timedelta(hours=rng.randint(-240, 720))
                if owner and status in ("NOT_CONTACTED", "CONTACTED", "QUALIFIED")
                and rng.random() < 0.4 else None
            )
            retired = (
                created + timedelta(days=30)
                if owner is None and status in ("LOST", "NOT_CONTACTED") and rng.random() < 0.2
                else None
            )
            leads.append(
                (
                    lead_id, self.project_id, name, email, email.casefold(), json.dumps(phones),
                    company, rng.choice(country[3]), country[0], country[4],
                    rng.choices(self.source_ids, cum_weights=self.source_w)[0], "",
                    f"aff-{rng.randint(100, 140)}" if rng.random() < 0.15 else "",
                    json.dumps(rng.choice(UTM) if rng.random() < 0.4 else {}),
                    owner, self.pool_id, None, None, owner, assigned_at,
                    self.stage_of[status], status,
                    rng.choice(LOST_REASONS) if status == "LOST" else "",
                    next_call, last_activity, retired, "{}", None, created, updated,
                    None, created, None, None, None, None,
                )
            )
            if email:
                keys.append((self.next_key, self.scope, "email", email.casefold(), lead_id, True))
                self.next_key += 1
            for phone in phones:
                keys.append((self.next_key, self.scope, "phone", phone, lead_id, True))
                self.next_key += 1
            for word in sorted(self.words_of(name, company)):
                words.append((self.next_word, lead_id, word))
                self.next_word += 1
            for block in name_blocks(name):
                blocks.append((self.next_block, self.project_id, block, lead_id))
                self.next_block += 1
            if len(leads) >= size:
                yield leads, keys, words, blocks
                leads, keys, words, blocks = [], [], [], []
        if leads:
            yield leads, keys, words, blocks


LEAD_COLUMNS = [
    "id", "project_id", "name", "email", "email_key", "phones", "company", "timezone", "country",
    "language", "source_id", "bucket_label", "affiliate_id", "utm", "owner_id", "pool_id",
    "claimed_by_id", "claimed_until", "original_owner_id", "assigned_at", "stage_id", "status",
    "lost_reason", "next_call_at", "last_activity_at", "retired_at", "custom", "merged_into_id",
    "created_at", "updated_at", "bucket_id", "duplicates_checked_at", "offer_until",
    "client_id", "converted_at", "list_id",
]
KEY_COLUMNS = ["id", "scope", "kind", "value", "lead_id", "canonical"]
WORD_COLUMNS = ["id", "lead_id", "word"]
BLOCK_COLUMNS = ["id", "project_id", "block", "lead_id"]
DATETIME_COLUMNS = [
    LEAD_COLUMNS.index(c) for c in
    ("claimed_until", "assigned_at", "next_call_at", "last_activity_at", "retired_at",
     "created_at", "updated_at", "duplicates_checked_at", "offer_until", "converted_at")
]


def check_columns() -> list[tuple[str, list[str]]]:
    """The loaders' column lists must be exactly the models' columns."""
    from leadflow.crm.models import Lead, LeadWord
    from leadflow.intake.models import DuplicateKey, NameBlock

    tables = []
    for model, columns in ((Lead, LEAD_COLUMNS), (DuplicateKey, KEY_COLUMNS),
                           (LeadWord, WORD_COLUMNS), (NameBlock, BLOCK_COLUMNS)):
        actual = sorted(f.column for f in model._meta.concrete_fields)
        if actual != sorted(columns):
            sys.exit(f"{model.__name__} columns changed: {actual}")
        tables.append((model._meta.db_table, columns))
    return tables


# --- loaders ------------------------------------------------------------------------------------


class SqliteLoader:
    """One raw connection, no journal during the load, indexes rebuilt at the end."""

    def __init__(self, path: Path, tables):
        import sqlite3

        from django.db import connections

        connections.close_all()
        self.tables = tables
        self.conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "cache_size=-1000000",
                       "temp_store=MEMORY", "foreign_keys=OFF"):
            self.conn.execute(f"PRAGMA {pragma}")
        self.conn.execute("BEGIN")
        names = [t for t, _ in tables]
        marks = ",".join("?" * len(names))
        self.indexes = self.conn.execute(
            f"SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({marks})", names,
        ).fetchall()
        for name, _ in self.indexes:
            self.conn.execute(f'DROP INDEX "{name}"')
        self.inserts = [
            f'INSERT INTO "{t}" ({", ".join(cols)}) VALUES ({", ".join("?" * len(cols))})'
            for t, cols in tables
        ]

    @staticmethod
    def _lead_row(row):
        row = list(row)
        for i in DATETIME_COLUMNS:
            if row[i] is not None:
                row[i] = str(row[i].replace(tzinfo=None))  # Django's SQLite form: naive UTC
        return row

    def write(self, leads, keys, words, blocks) -> None:
        self.conn.executemany(self.inserts[0], map(self._lead_row, leads))
        self.conn.executemany(self.inserts[1], keys)
        self.conn.executemany(self.inserts[2], words)
        self.conn.executemany(self.inserts[3], blocks)

    def finish(self) -> dict[str, float]:
        timings = {}
        started = time.perf_counter()
        for _, create in self.indexes:
            self.conn.execute(create)
        self.conn.execute("COMMIT")
        timings["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        self.conn.execute("ANALYZE")
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.close()
        timings["analyze"] = time.perf_counter() - started
        return timings


class PostgresLoader:
    """COPY into the tables with their foreign keys, unique constraints and secondary indexes
    dropped; they are rebuilt (and the foreign keys validated) at the end."""

    def __init__(self, tables):
        from django.db import connection

        self.tables = tables
        connection.ensure_connection()
        self.conn = connection.connection  # psycopg, autocommit
        self.conn.autocommit = True
        cur = self.conn.cursor()
        names = [t for t, _ in tables]
        cur.execute("SET maintenance_work_mem = '512MB'")
        cur.execute("SET max_parallel_maintenance_workers = 1")
        cur.execute("SET synchronous_commit = off")
        self.constraints = cur.execute(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(%s) AND contype IN ('f', 'u') "
            "ORDER BY contype DESC",  # unique before foreign keys when re-adding
            [names],
        ).fetchall()
        self.indexes = cur.execute(
            "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i "
            "WHERE i.indrelid::regclass::text = ANY(%s) AND NOT i.indisprimary "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
            [names],
        ).fetchall()
        for table, name, _, _ in sorted(self.constraints, key=lambda c: c[3]):  # f before u
            cur.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            cur.execute(f"DROP INDEX {name}")
        self.cur = cur

    def write(self, leads, keys, words, blocks) -> None:
        with self.conn.transaction():
            for (table, columns), rows in zip(self.tables, (leads, keys, words, blocks),
                                              strict=True):
                with self.cur.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row(row)

    def finish(self) -> dict[str, float]:
        timings = {}
        cur = self.cur
        started = time.perf_counter()
        for _, create in self.indexes:
            cur.execute(create)
        for table, name, definition, _ in self.constraints:
            cur.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
        for table, _ in self.tables:
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                f'(SELECT max(id) FROM "{table}"))'
            )
        timings["indexes"] = time.perf_counter() - started
        started = time.perf_counter()
        for table, _ in self.tables:
            cur.execute(f'VACUUM (ANALYZE) "{table}"')
        timings["analyze"] = time.perf_counter() - started
        return timings


def load(args, home: Path) -> dict:
    from django.db import connection

    tables = check_columns()
    started = time.perf_counter()
    cast = create_cast(args.agents)
    generator = LeadGenerator(args.seed, args.leads, cast)
    if args.database == "sqlite":
        loader = SqliteLoader(home / "leadflow.sqlite3", tables)
    else:
        loader = PostgresLoader(tables)
    log(f"loading {args.leads:,} leads ({args.database}) …")
    written = 0
    for leads, keys, words, blocks in generator.batches(BATCH):
        loader.write(leads, keys, words, blocks)
        written += len(leads)
        if written % 200_000 == 0 or written == args.leads:
            log(f"  {written:>9,} leads  {time.perf_counter() - started:6.0f} s")
    rows_seconds = time.perf_counter() - started
    timings = loader.finish()
    connection.close()
    info = {
        "database": args.database,
        "leads": args.leads,
        "seed": args.seed,
        "duplicate_keys": generator.next_key - 1,
        "lead_words": generator.next_word - 1,
        "name_blocks": generator.next_block - 1,
        "rows_seconds": round(rows_seconds, 1),
        "indexes_seconds": round(timings["indexes"], 1),
        "analyze_seconds": round(timings["analyze"], 1),
        "total_seconds": round(time.perf_counter() - started, 1),
        "loaded_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (home / "load.json").write_text(json.dumps(info, indent=2))
    return info


def analyze(database: str) -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("ANALYZE")


def ensure_loaded(args, home: Path) -> tuple[dict, bool]:
    """The load info, and whether an existing database was reused."""
    import django

    exists = database_exists(args, home)
    django.setup()
    if exists and not args.reload:
        from leadflow.crm.models import Lead

        applied = migrate()
        info_path = home / "load.json"
        info = json.loads(info_path.read_text()) if info_path.exists() else {}
        cast = find_cast()
        if (cast is not None and info.get("seed") == args.seed
                and info.get("leads") == args.leads == Lead.objects.count()):
            if applied:
                log("new migrations applied: refreshing statistics")
                analyze(args.database)
            return info, True
        log("existing database does not match: loading again")
    recreate_database(args, home)
    migrate()
    return load(args, home), False


# --- measuring ----------------------------------------------------------------------------------


@dataclass
class Case:
    key: str
    label: str
    token: str
    params: list[dict]  # one per request (warm-ups first)
    check: object = None  # callable(item, params) -> bool
    target_ms: float | None = TARGET_MS
    results: dict = field(default_factory=dict)


def build_cases(args, cast: Cast) -> list[Case]:
    from leadflow.accounts.services import issue_token
    from leadflow.core.actor import Actor
    from leadflow.core.normalize import search_words
    from leadflow.crm.models import Lead

    system = Actor(None, "cli")
    rng = random.Random(args.seed + 1)
    total = args.warmup + args.requests
    manager_token = issue_token(cast.manager, actor=system, name="bench")
    admin_token = issue_token(cast.admin, actor=system, name="bench")
    agent_tokens = {a.pk: issue_token(a, actor=system, name="bench") for a in cast.agents}

    # Values drawn from existing leads, so each search finds its lead.
    sample_ids = rng.sample(range(1, args.leads + 1), min(args.leads, 4 * total))
    sample = list(Lead.objects.filter(pk__in=sample_ids).order_by("pk"))
    rng.shuffle(sample)
    with_email = [lead for lead in sample if lead.email][:total]
    email_q = []
    for i, lead in enumerate(with_email):
        local, _, domain = lead.email_key.partition("@")
        form = i % 3
        email_q.append(
            f"{local}@" if form == 0 else lead.email if form == 1 else f"{local}@{domain[:3]}"
        )
    last_names = [lead.name.rsplit(" ", 1)[-1] for lead in sample[:total]]
    full_names = [lead.name for lead in sample[total:2 * total]]
    agents = [cast.agents[i % len(cast.agents)] for i in range(total)]
    rng.shuffle(agents)

    def words_match(item, query):
        item_words = search_words(item["name"], item["company"]).split()
        return all(any(w.startswith(q) for w in item_words) for q in search_words(query).split())

    cases = [
        Case("first_page_manager", "first page (manager)", manager_token, [{}] * total),
        Case("first_page_admin", "first page (admin)", admin_token, [{}] * total,
             target_ms=None),
        Case("status", "status=CONTACTED (manager)", manager_token,
             [{"status": "CONTACTED"}] * total,
             check=lambda item, p: item["status"] == p["status"]),
        Case("agent_own", "agent's own list (owner=me)", "", [{"owner": a.pk} for a in agents],
             check=lambda item, p: item["owner"] == p["owner"]),
        Case("email_search", "email search q=…@… (manager)", manager_token,
             [{"q": q} for q in email_q],
             check=lambda item, p: item["email"].casefold().startswith(p["q"].casefold())),
        Case("name_search", "name search q=<last name> (manager)", manager_token,
             [{"q": q} for q in last_names], check=lambda item, p: words_match(item, p["q"]),
             target_ms=NAME_TARGET_MS),
        Case("full_name_search", "name search q=<first last> (manager)", manager_token,
             [{"q": q} for q in full_names], check=lambda item, p: words_match(item, p["q"]),
             target_ms=None),
        Case("agent_name_search", "name search q=<last name> (agent)", "",
             [{"q": q} for q in last_names[::-1]],
             check=lambda item, p: words_match(item, p["q"]), target_ms=None),
    ]
    for case in cases:
        if case.key == "agent_own":
            case.agent_tokens = agent_tokens
        if case.key == "agent_name_search":
            case.agent_tokens = {None: agent_tokens[agents[0].pk]}
    return cases


def token_for(case: Case, params: dict) -> str:
    if case.key == "agent_own":
        return case.agent_tokens[params["owner"]]
    if case.key == "agent_name_search":
        return case.agent_tokens[None]
    return case.token


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(pct / 100 * len(ordered)) - 1)]


class GcClock:
    """Milliseconds spent in the garbage collector's full (generation 2) passes while active."""

    def __init__(self):
        self.total = 0.0
        self._started = None

    def _callback(self, phase, info):
        if info["generation"] != 2:
            return
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started is not None:
            self.total += (time.perf_counter() - self._started) * 1000
            self._started = None

    def __enter__(self):
        self.total = 0.0
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)


def run_case(client, case: Case, limit: int, warmup: int) -> dict:
    """Warm-ups first (the first one also captures the SQL for --explain), then the timed
    requests. Queries are counted with an execute wrapper, which costs nothing measurable;
    Django's CaptureQueriesContext would format every statement's parameters into the SQL text,
    which is slow for a long IN list and would be timed too."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, rows, main_sql, slowest = [], [], [], None, []
    executed = []
    gc_ms = GcClock()

    def count(execute, sql, params, many, context):
        executed.append(sql)
        return execute(sql, params, many, context)

    for n, params in enumerate(case.params):
        query = dict(params)
        if limit != 50:
            query["limit"] = limit
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token_for(case, params)}"}
        executed.clear()
        if n == 0:
            with CaptureQueriesContext(connection) as captured:
                response = client.get("/api/v1/leads", query, **headers)
            main_sql = next(
                (q["sql"] for q in captured.captured_queries
                 if 'FROM "crm_lead"' in q["sql"] and "LIMIT" in q["sql"]),
                None,
            )
            elapsed = 0.0
        else:
            with connection.execute_wrapper(count), gc_ms:
                started = time.perf_counter()
                response = client.get("/api/v1/leads", query, **headers)
                elapsed = (time.perf_counter() - started) * 1000
        if response.status_code != 200:
            sys.exit(f"{case.key}: {response.status_code} {response.content[:300]!r}")
        items = response.json()["items"]
        if case.check is not None:
            wrong = [item["id"] for item in items if not case.check(item, params)]
            if wrong:
                sys.exit(f"{case.key} {params}: unexpected leads {wrong[:5]}")
        if n < warmup:
            continue
        times.append(elapsed)
        slowest.append((round(elapsed, 1), params, len(items), round(gc_ms.total, 1)))
        queries.append(len(executed))
        rows.append(len(items))
    return {
        "p50": statistics.median(times),
        "p95": percentile(times, 95),
        "max": max(times),
        "queries_min": min(queries),
        "queries_max": max(queries),
        "rows_avg": statistics.mean(rows),
        "sql": main_sql,
        "slowest": sorted(slowest, key=lambda s: -s[0])[:3],
        "gc_requests": sum(1 for s in slowest if s[3] > 0),
    }


def explain(database: str, sql: str) -> str:
    from django.db import connection

    raw = connection.connection
    if database == "sqlite":
        rows = raw.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
        return "\n".join(f"  {row[-1]}" for row in rows)
    cur = raw.cursor()
    cur.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
    return "\n".join(f"  {row[0]}" for row in cur.fetchall())


def print_table(database: str, cases: list[Case], limits: list[int]) -> None:
    header = (f"{'case':40} {'limit':>5} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} "
              f"{'queries':>8} {'rows':>6}  target")
    log(f"\n{database}: GET /api/v1/leads\n{header}\n{'-' * len(header)}")
    for limit in limits:
        for case in cases:
            r = case.results[limit]
            q = (f"{r['queries_min']}" if r["queries_min"] == r["queries_max"]
                 else f"{r['queries_min']}-{r['queries_max']}")
            verdict = ""
            if limit == 50 and case.target_ms is not None:
                ok = r["p95"] <= case.target_ms and r["queries_max"] <= MAX_QUERIES
                verdict = f"p95≤{case.target_ms:.0f} {'ok' if ok else 'MISSED'}"
            elif r["queries_max"] > MAX_QUERIES:
                verdict = "queries MISSED"
            elif limit == 50:
                verdict = "(extra)"
            log(f"{case.label:40} {limit:>5} {r['p50']:8.1f} {r['p95']:8.1f} {r['max']:8.1f} "
                f"{q:>8} {r['rows_avg']:6.0f}  {verdict}")


def main(argv=None) -> int:
    args = parse_args(argv)
    home = configure(args)
    load_before = os.getloadavg()
    info, reused = ensure_loaded(args, home)
    log(f"{'reusing' if reused else 'loaded'} {info['leads']:,} leads, "
        f"{info['duplicate_keys']:,} duplicate keys, {info['lead_words']:,} search words "
        f"(load {info['total_seconds']:.0f} s: rows {info['rows_seconds']:.0f} s, "
        f"indexes {info['indexes_seconds']:.0f} s, statistics {info['analyze_seconds']:.0f} s)")

    from django.db import connection
    from django.test import Client

    cast = find_cast()
    cases = build_cases(args, cast)
    client = Client()
    limits = [50, 200]
    for limit in limits:
        for case in cases:
            case.results[limit] = run_case(client, case, limit, args.warmup)
    print_table(args.database, cases, limits)
    log(f"{os.cpu_count()} CPUs; load average before {load_before[0]:.2f}, "
        f"after {os.getloadavg()[0]:.2f}")
    if args.slowest:
        for limit in limits:
            for case in cases:
                r = case.results[limit]
                worst = ", ".join(
                    f"{ms} ms {params or ''} ({n} rows{f', GC {g} ms' if g else ''})"
                    for ms, params, n, g in r["slowest"]
                )
                log(f"slowest {case.key} limit={limit}: {worst}; "
                    f"{r['gc_requests']} requests with a full GC pass")
    if args.explain:
        for case in cases:
            log(f"\n--- {case.label}\n  {case.results[50]['sql']}\n"
                f"{explain(args.database, case.results[50]['sql'])}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT sqlite_version()" if args.database == "sqlite" else "SHOW server_version"
        )
        version = cursor.fetchone()[0]
    results = args.json or home / "results.json"
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps({
        "database": args.database,
        "version": version,
        "load": info,
        "reused": reused,
        "load_average": [load_before[0], os.getloadavg()[0]],
        "requests": args.requests,
        "cases": {
            c.key: {"label": c.label, "target_ms": c.target_ms,
                    **{str(k): {m: v for m, v in r.items() if m != "sql"}
                       for k, r in c.results.items()}}
            for c in cases
        },
    }, indent=2))
    log(f"results: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
