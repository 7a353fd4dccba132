"""What a public install still lacks: Leadflow's own deployment checks beside Django's.

The checks are Django system checks tagged `deploy`, so `python -m django check --deploy` runs
them too and plain `leadflow check` never does. `deploy_report()` gathers Django's and these
into one sentence per finding for `leadflow check --deploy`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from django.conf import settings
from django.core import checks

SQLITE_ENGINES = ("django.db.backends.sqlite3", "leadflow.core.sqlite")

# Django's deploy warnings that one of ours already says in the install's own terms: when ours
# is reported, theirs is left out so that each missing piece reads once.
COVERED_BY = {
    "security.W018": "leadflow.W001",  # DEBUG
    "security.W004": "leadflow.W003",  # HSTS
    "security.W008": "leadflow.W003",  # SSL redirect
    "security.W012": "leadflow.W003",  # Secure session cookie
    "security.W016": "leadflow.W003",  # Secure CSRF cookie
}


@checks.register(checks.Tags.security, deploy=True)
def check_public_install(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Leadflow's list of what a public install lacks, each a Warning with one sentence; the
    database advice is an Info (SQLite is right for one host)."""
    messages: list[checks.CheckMessage] = []
    home = settings.LEADFLOW_HOME
    if settings.DEBUG:
        messages.append(checks.Warning(
            "DEBUG is on, so error pages show code and settings to anyone: unset DEBUG.",
            id="leadflow.W001"))
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(checks.Warning(
            "ALLOWED_HOSTS is '*', so any host name is answered: set ALLOWED_HOSTS to the "
            "public host name, e.g. ALLOWED_HOSTS=leads.example.com.",
            id="leadflow.W002"))
    if not getattr(settings, "HTTPS", False):
        messages.append(checks.Warning(
            "HTTPS is not on, so passwords and session cookies can travel in clear text: serve "
            "the site through a TLS proxy and set LEADFLOW_HTTPS=1 (or an https:// "
            "LEADFLOW_SITE_URL).",
            id="leadflow.W003"))
    engine = settings.DATABASES["default"]["ENGINE"]
    if engine in SQLITE_ENGINES:
        messages.append(checks.Info(
            "SQLite is fine for one host; for more than one web host use PostgreSQL "
            "(DATABASE_URL) and Redis (REDIS_URL).",
            id="leadflow.I001"))
    elif not settings.REDIS_URL:
        messages.append(checks.Warning(
            f"REDIS_URL is unset, so jobs queue in a local SQLite file ({home / 'huey.sqlite3'}) "
            "that workers on other hosts never see: set REDIS_URL, e.g. "
            "redis://127.0.0.1:6379/0.",
            id="leadflow.W004"))
    key_file = getattr(settings, "SECRET_KEY_FILE", None)
    if key_file is not None and key_file.exists():
        mode = stat.S_IMODE(key_file.stat().st_mode)
        if mode & 0o077:
            messages.append(checks.Warning(
                f"The generated secret key {key_file} can be read by other users "
                f"(mode {mode:04o}): run chmod 600 {key_file}, or set SECRET_KEY.",
                id="leadflow.W005"))
    if not os.environ.get("EMAIL_HOST", "").strip():
        messages.append(checks.Warning(
            f"EMAIL_HOST is unset, so e-mail is written to files under {home / 'mail'} instead "
            "of being sent: set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, "
            "EMAIL_HOST_PASSWORD, EMAIL_USE_TLS, DEFAULT_FROM_EMAIL).",
            id="leadflow.W006"))
    return messages


@dataclass(frozen=True)
class DeployReport:
    findings: list[str]
    notes: list[str]


def deploy_report() -> DeployReport:
    """Every system check with deployment checks included (Django's and ours), silenced ones
    left out: warnings and errors are findings, one line each; infos are notes. Django's
    messages keep their check id so that they can be looked up or silenced."""
    messages = [m for m in checks.run_checks(include_deployment_checks=True)
                if not m.is_silenced()]
    ids = {m.id for m in messages}
    findings, notes = [], []
    for message in messages:
        covering = COVERED_BY.get(message.id)
        if covering is not None and covering in ids:
            continue
        text = " ".join(str(message.msg).split())
        if not (message.id or "").startswith("leadflow."):
            text = f"{text} ({message.id})"
        if message.level >= checks.WARNING:
            findings.append(text)
        else:
            notes.append(text)
    return DeployReport(findings=findings, notes=notes)
