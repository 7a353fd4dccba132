"""Test settings: only what tests need differs from production."""

import tempfile
from pathlib import Path

from huey import MemoryHuey

from leadflow.settings import *  # noqa: F403
from leadflow.settings import DATABASES

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = MemoryHuey("leadflow-test", immediate=True)
MEDIA_ROOT = tempfile.mkdtemp(prefix="leadflow-media-")
EXPORTS_ROOT = Path(tempfile.mkdtemp(prefix="leadflow-exports-"))
IMPORTS_ROOT = Path(tempfile.mkdtemp(prefix="leadflow-imports-"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

if DATABASES["default"]["ENGINE"] == "leadflow.core.sqlite":
    # The concurrency tests run threads with their own connections: they can share a test
    # database file (WAL, busy timeout), not a private in-memory one.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.mkdtemp(prefix="leadflow-testdb-")) / "test.sqlite3")
    }
