"""The HTTP layer under the WSGI application, for `leadflow serve`.

- `JsonErrorsWorker`: gunicorn's gthread worker whose own error answers — a request line over
  `limit_request_line` (414), headers over their limits (431), a malformed request (400) —
  are JSON `{"detail", "errors"}` like the API's, not gunicorn's HTML page.
- `read_chunked_body`: a body sent with `Transfer-Encoding: chunked` has no Content-Length,
  so Django would read it as empty; it is read here (up to a limit) and handed on with its
  length, or answered 411/413 in JSON when it cannot be."""

from __future__ import annotations

import json
import tempfile

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

# The longest request line gunicorn accepts (its maximum; the default is 4094).
LIMIT_REQUEST_LINE = 8190
SPOOL_IN_MEMORY = 1024 * 1024
CHUNK = 64 * 1024

ERROR_FIELDS = {
    414: ("url", "too_long"),
    431: ("headers", "too_long"),
    400: ("request", "invalid"),
    411: ("body", "length_required"),
    413: ("body", "too_large"),
}


def error_body(status: int, detail: str, message: str = "") -> bytes:
    """The API's error shape for an answer given below Django."""
    body: dict = {"detail": detail}
    if status in ERROR_FIELDS:
        field, code = ERROR_FIELDS[status]
        body["errors"] = [{"field": field, "code": code, "message": message or detail}]
    return json.dumps(body).encode()


def write_json_error(sock, status_int, reason, mesg) -> None:
    """gunicorn's `util.write_error`, answering JSON (same status line, closes the
    connection)."""
    if status_int >= 500:
        payload = error_body(status_int, "Internal server error.")
    else:
        payload = error_body(status_int, f"{reason}.", mesg)
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin1") + payload)


class JsonErrorsWorker(ThreadWorker):
    """gthread worker answering its own errors in JSON. Its `handle_error` (gunicorn 23–27)
    builds the status and message and calls `util.write_error`, which this process replaces;
    tests/test_serve.py fails if that stops holding."""

    def init_process(self):
        util.write_error = write_json_error
        super().init_process()


def _json_response(start_response, status: str, payload: bytes):
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(payload)))])
    return [payload]


def read_chunked_body(environ, start_response, *, limit: int | None):
    """For a chunked request body: None when the environ is ready for Django (the body read
    into a spooled file, CONTENT_LENGTH set), else the 411/413 answer to return. `limit` is
    the most bytes taken (None: no limit, for uploads)."""
    if not environ.get("wsgi.input_terminated"):
        # The server cannot tell where the body ends: only a length would do.
        return _json_response(start_response, "411 Length Required", error_body(
            411, "A Content-Length header is required for this body."))
    source = environ["wsgi.input"]
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
    size = 0
    while chunk := source.read(CHUNK):
        size += len(chunk)
        if limit is not None and size > limit:
            spool.close()
            return _json_response(start_response, "413 Request Entity Too Large", error_body(
                413, f"Request body is over {limit // (1024 * 1024)} MB."))
        spool.write(chunk)
    spool.seek(0)
    environ["wsgi.input"] = spool
    environ["CONTENT_LENGTH"] = str(size)
    return None
