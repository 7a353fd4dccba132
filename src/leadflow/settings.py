"""Leadflow settings, read from the environment.

DATABASE_URL  default: SQLite at $LEADFLOW_HOME/leadflow.sqlite3 (WAL, IMMEDIATE, writer lock file)
REDIS_URL     default: Huey on SQLite at $LEADFLOW_HOME/huey.sqlite3
SECRET_KEY    default: generated once into $LEADFLOW_HOME/secret_key
DEBUG         off unless set to 1/true
LEADFLOW_HOME default: ./var
TRUSTED_PROXIES default: none (comma-separated addresses or networks of reverse proxies)
LEADFLOW_SITE_URL  the public address, e.g. https://leads.example.com (https turns HTTPS on)
LEADFLOW_HTTPS     1: served over HTTPS behind a TLS proxy (HSTS, Secure cookies, redirect)
"""

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


LEADFLOW_HOME = Path(os.environ.get("LEADFLOW_HOME", "var")).resolve()
LEADFLOW_HOME.mkdir(parents=True, exist_ok=True)

DEBUG = env_flag("DEBUG")


# The generated key's file, None when SECRET_KEY comes from the environment (read by
# `leadflow check --deploy`, which checks the file's permissions).
SECRET_KEY_FILE = None if os.environ.get("SECRET_KEY") else LEADFLOW_HOME / "secret_key"


def _secret_key() -> str:
    if SECRET_KEY_FILE is None:
        return os.environ["SECRET_KEY"]
    path = SECRET_KEY_FILE
    if not path.exists():
        # Written once with owner-only permissions; every process of this install shares it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "*").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
# The address users reach this install at (scheme and host, e.g. https://leads.example.com).
_SITE_URL = os.environ.get("LEADFLOW_SITE_URL", "").strip()
SITE_URL = _SITE_URL.rstrip("/")
# Served over HTTPS (by a TLS-terminating proxy): HSTS, Secure cookies, a redirect from http.
HTTPS = env_flag("LEADFLOW_HTTPS")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",
    "huey.contrib.djhuey",
    "leadflow.core",
    "leadflow.accounts",
    "leadflow.projects",
    "leadflow.crm",
    "leadflow.activities",
    "leadflow.clients",
    "leadflow.intake",
    "leadflow.routing",
    "leadflow.jobs",
    "leadflow.tags",
    "leadflow.lists",
    "leadflow.exports",
    "leadflow.imports",
    "leadflow.timeline",
    "leadflow.privacy",
    "leadflow.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "leadflow.core.middleware.ContentSecurityPolicyMiddleware",
    "leadflow.core.middleware.ApiBodyLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "leadflow.core.middleware.UnstorableInputMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "leadflow.urls"
WSGI_APPLICATION = "leadflow.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "leadflow.core.context_processors.navigation",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{LEADFLOW_HOME / 'leadflow.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "60")),
    )
}

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "crm:lead_list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = LEADFLOW_HOME / "static"
MEDIA_ROOT = LEADFLOW_HOME / "uploads"
# Export files, written by the export jobs and streamed out by the download routes.
EXPORTS_ROOT = LEADFLOW_HOME / "exports"
# Days an export's file is kept after it finished; the sweep deletes older ones.
EXPORT_RETENTION_DAYS = int(os.environ.get("LEADFLOW_EXPORT_RETENTION_DAYS", "7"))
# Uploaded import files, kept so that a resumed import reads the same file.
IMPORTS_ROOT = LEADFLOW_HOME / "imports"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie.
X_FRAME_OPTIONS = "DENY"

REDIS_URL = os.environ.get("REDIS_URL", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# --- computed settings (one place) -----------------------------------------------------------

_db = DATABASES["default"]
if _db["ENGINE"] in ("django.db.backends.sqlite3", "leadflow.core.sqlite"):
    # Django's SQLite backend, with write transactions queued on a file lock (see
    # leadflow/core/sqlite/base.py). Without IMMEDIATE, concurrent writers fail at once with
    # "database is locked"; the busy timeout covers writers outside a transaction.
    _db["ENGINE"] = "leadflow.core.sqlite"
    _db["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # Checkpoints run after commits, outside the writer lock (leadflow/core/sqlite/base.py).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0; "
            "PRAGMA journal_size_limit=67108864;"
        ),
    }
    _db["CONN_MAX_AGE"] = 0 if _db["NAME"] == ":memory:" else _db["CONN_MAX_AGE"]
elif _db["ENGINE"] == "django.db.backends.postgresql":
    # Statements run through leadflow.core.db.prepared_cursor() are prepared on first use;
    # nothing else is (Django's own cursors bind on the client and are never prepared).
    _db.setdefault("OPTIONS", {}).setdefault("prepare_threshold", 2**31 - 1)


_site = urlsplit(SITE_URL)
if SITE_URL and (_site.scheme not in ("http", "https") or not _site.netloc):
    raise ImproperlyConfigured(
        f"LEADFLOW_SITE_URL must look like https://leads.example.com, not {_SITE_URL!r}."
    )
HTTPS = HTTPS or _site.scheme == "https"
if SITE_URL and not CSRF_TRUSTED_ORIGINS:
    # Only needed when the proxy does not pass the public Host on; harmless when it does.
    CSRF_TRUSTED_ORIGINS = [f"{_site.scheme}://{_site.netloc}"]
if HTTPS:
    # TLS ends at the proxy: it tells the app with X-Forwarded-Proto, which is trustworthy only
    # when the app listens on an address nothing but the proxy reaches (127.0.0.1 by default).
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Plain-http requests are redirected; LEADFLOW_SSL_REDIRECT=0 leaves that to the proxy, e.g.
    # for a health check that talks to the app directly without X-Forwarded-Proto.
    SECURE_SSL_REDIRECT = env_flag("LEADFLOW_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    _hsts = os.environ.get("LEADFLOW_HSTS_SECONDS", str(365 * 24 * 3600)).strip()
    if not _hsts.isdigit():
        raise ImproperlyConfigured(
            f"LEADFLOW_HSTS_SECONDS must be a whole number of seconds, not {_hsts!r}."
        )
    SECURE_HSTS_SECONDS = int(_hsts)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("LEADFLOW_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_flag("LEADFLOW_HSTS_PRELOAD")
# Asking browsers to preload HSTS binds the whole domain for months: the domain owner's decision,
# never a missing piece of an install, so `check --deploy` does not ask for it.
SILENCED_SYSTEM_CHECKS = ["security.W021"]


def _huey():
    from huey import PriorityRedisHuey, SqliteHuey

    # Both take each task's priority (leadflow/core/queues.py); Redis needs 5.0 or later.
    if REDIS_URL:
        return PriorityRedisHuey("leadflow", url=REDIS_URL)
    return SqliteHuey("leadflow", filename=str(LEADFLOW_HOME / "huey.sqlite3"))


# djhuey runs tasks inline when given a dict with DEBUG on; an instance never does.
HUEY = _huey()

# Reverse proxies whose X-Forwarded-For is believed (comma-separated addresses or networks,
# e.g. "127.0.0.1,10.0.0.0/8"); by default none, so the client is the connection's peer.
TRUSTED_PROXIES = [
    p.strip() for p in os.environ.get("TRUSTED_PROXIES", "").split(",") if p.strip()
]
