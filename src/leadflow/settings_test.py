"""Test settings: only what tests need differs from production."""

import tempfile

from huey import MemoryHuey

from leadflow.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
HUEY = MemoryHuey("leadflow-test", immediate=True)
MEDIA_ROOT = tempfile.mkdtemp(prefix="leadflow-media-")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
