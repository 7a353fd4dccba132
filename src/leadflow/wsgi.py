"""The WSGI application: Django's, with intake submissions taken by a handler of their own, and
chunked request bodies read before Django sees them (leadflow/server.py).

`POST /api/v1/intake/…` is the busiest route by far and authenticates by bucket key alone: it
needs no session, CSRF, user, messages, htmx or static-file middleware, whose work costs about a
fifth of a submission's CPU time. Its handler runs only the middleware in INTAKE_MIDDLEWARE, in
the settings' order; every other request goes through the full stack."""

import gc
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.test.utils import override_settings
from django.urls import get_resolver

from leadflow.server import read_chunked_body

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")

INTAKE_PREFIX = "/api/v1/intake/"
INTAKE_MIDDLEWARE = {
    "django.middleware.security.SecurityMiddleware",
    "leadflow.core.middleware.ApiBodyLimitMiddleware",
    "django.middleware.common.CommonMiddleware",  # Content-Length
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}

_full = get_wsgi_application()
with override_settings(MIDDLEWARE=[m for m in settings.MIDDLEWARE if m in INTAKE_MIDDLEWARE]):
    _intake = get_wsgi_application()


# Uploads may be as large as with a Content-Length; other chunked bodies stop at Django's limit.
UPLOAD_PREFIXES = ("/api/v1/imports", "/imports/")


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower() and not environ.get(
            "CONTENT_LENGTH"):
        limit = None if path.startswith(UPLOAD_PREFIXES) else settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        answer = read_chunked_body(environ, start_response, limit=limit)
        if answer is not None:
            return answer
    handler = _intake if path.startswith(INTAKE_PREFIX) else _full
    return handler(environ, start_response)


get_resolver().url_patterns  # noqa: B018 - imports every view and API module now
# Everything loaded so far lives as long as the process: frozen, the collector no longer walks
# it, and a full collection takes under a millisecond instead of about a hundred (each worker
# imports this module after it is forked).
gc.freeze()
