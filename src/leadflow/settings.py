"""Leadflow settings, read from the environment.

DATABASE_URL  default: SQLite at $LEADFLOW_HOME/leadflow.sqlite3 (WAL, IMMEDIATE, writer lock file)
REDIS_URL     default: Huey on SQLite at $LEADFLOW_HOME/huey.sqlite3
SECRET_KEY    default: generated once into $LEADFLOW_HOME/secret_key
DEBUG         off unless set to 1/true
LEADFLOW_HOME default: ./var
"""

import os
import secrets
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env_flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


LEADFLOW_HOME = Path(os.environ.get("LEADFLOW_HOME", "var")).resolve()
LEADFLOW_HOME.mkdir(parents=True, exist_ok=True)

DEBUG = env_flag("DEBUG")


def _secret_key() -> str:
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = LEADFLOW_HOME / "secret_key"
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
    "leadflow.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
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


def _huey():
    from huey import RedisHuey, SqliteHuey

    if REDIS_URL:
        return RedisHuey("leadflow", url=REDIS_URL)
    return SqliteHuey("leadflow", filename=str(LEADFLOW_HOME / "huey.sqlite3"))


# djhuey runs tasks inline when given a dict with DEBUG on; an instance never does.
HUEY = _huey()
