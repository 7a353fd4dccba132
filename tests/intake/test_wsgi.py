"""The WSGI application takes intake submissions through a handler with less middleware and
everything else through the full stack."""

import io
import json
import sys

from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from leadflow.intake.models import Submission
from tests.factories import make_bucket, make_project


def call(path: str, *, method: str = "GET", body: bytes = b"", **headers) -> tuple[str, dict]:
    from leadflow.wsgi import application

    environ = {
        "REQUEST_METHOD": method, "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
        "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "testserver", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": True,
        "wsgi.run_once": False, **headers,
    }
    started: dict = {}

    def start_response(status, response_headers, exc_info=None):
        started.update(status=status, headers=dict(response_headers))

    # As Django's test client does: the test's transaction must outlive the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started["status"], started["headers"]


def test_a_submission_through_the_wsgi_application_is_stored_with_the_security_headers():
    bucket, key = make_bucket(make_project())
    body = json.dumps({"name": "Ann Lee", "email": "ann@example.com"}).encode()

    status, headers = call(f"/api/v1/intake/{bucket.pk}", method="POST", body=body,
                           HTTP_X_API_KEY=key)

    assert status.startswith("201")
    assert Submission.objects.get(bucket=bucket).status == "processed"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert int(headers["Content-Length"]) > 0
    assert "Set-Cookie" not in headers


def test_a_submission_over_one_megabyte_is_refused_through_the_wsgi_application():
    bucket, key = make_bucket(make_project())
    body = json.dumps({"name": "Ann", "note": "x" * (1024 * 1024)}).encode()

    status, _headers = call(f"/api/v1/intake/{bucket.pk}", method="POST", body=body,
                            HTTP_X_API_KEY=key)

    assert status.startswith("413")
    assert not Submission.objects.exists()


def test_the_web_ui_through_the_wsgi_application_keeps_its_middleware():
    status, headers = call("/login/")

    assert status.startswith("200")
    assert "csrftoken" in headers.get("Set-Cookie", "")
