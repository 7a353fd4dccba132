"""`leadflow serve` answers in JSON even below Django: a request line over gunicorn's limit, a
request it cannot parse and a chunked body (read, or refused with 411/413) — checked against a
real server on a free port of 127.0.0.1, with its own SQLite database."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leadflow.server import read_chunked_body

LEADFLOW = [sys.executable, "-m", "leadflow"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(env, *args) -> str:
    done = subprocess.run([*LEADFLOW, *args], env=env, capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.strip()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("serve-home")
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "REDIS_URL")}
    env["LEADFLOW_HOME"] = str(home)
    _run(env, "migrate")
    _run(env, "createuser", "admin@example.com", "--admin", "--password", "serve-test-1")
    token = _run(env, "token", "admin@example.com")
    port = _free_port()
    log = (Path(home) / "serve.log").open("w")
    process = subprocess.Popen(  # noqa: S603
        [*LEADFLOW, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--no-worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise RuntimeError((Path(home) / "serve.log").read_text()) from None
            time.sleep(0.2)
    yield port, token
    process.terminate()
    process.wait(timeout=20)
    log.close()


def _request(port, method, path, *, body=None, headers=None, chunked=False):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers=headers or {},
                           encode_chunked=chunked)
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type"), response.read()
    finally:
        connection.close()


def test_a_request_line_over_the_limit_is_414_json(server):
    port, _token = server

    status, content_type, body = _request(port, "GET", "/api/v1/leads?q=" + "a" * 9000)

    assert (status, content_type) == (414, "application/json")
    assert json.loads(body)["errors"][0]["field"] == "url"
    assert json.loads(body)["errors"][0]["code"] == "too_long"


def test_a_request_line_over_gunicorns_default_limit_reaches_the_api(server):
    port, token = server

    status, content_type, body = _request(port, "GET", "/api/v1/leads?q=" + "a" * 6000,
                                          headers={"Authorization": f"Bearer {token}"})

    assert (status, content_type) == (400, "application/json; charset=utf-8")
    assert json.loads(body)["errors"] == [
        {"field": "q", "code": "too_long", "message": "At most 200 characters."}]


def test_a_request_gunicorn_cannot_parse_is_400_json(server):
    port, _token = server
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        raw.sendall(b"GET /api/v1/leads HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        answer = b""
        while chunk := raw.recv(65536):
            answer += chunk

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["errors"][0]["field"] == "request"


def test_a_chunked_body_is_read(server):
    port, token = server
    parts = [b'{"name": ', b'"Chunked desk"}']

    status, _type, body = _request(port, "POST", "/api/v1/projects", body=iter(parts),
                                   chunked=True,
                                   headers={"Authorization": f"Bearer {token}",
                                            "Content-Type": "application/json"})

    assert status == 201
    assert json.loads(body)["name"] == "Chunked desk"


def test_a_chunked_body_over_the_api_limit_is_413_json(server):
    port, token = server
    parts = (b"x" * 65536 for _ in range(40))  # 2.5 MB

    status, content_type, body = _request(
        port, "POST", "/api/v1/projects", body=parts, chunked=True,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    assert (status, content_type) == (413, "application/json")
    assert json.loads(body)["detail"] == "Request body is over 1 MB."


def _environ(body: bytes, *, terminated: bool) -> dict:
    return {"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": terminated}


def test_a_chunked_body_over_the_limit_is_refused_before_django():
    started = {}
    environ = _environ(b"x" * 200_000, terminated=True)

    answer = read_chunked_body(environ, lambda status, headers: started.update(status=status),
                               limit=2 * 1024 * 1024 // 20)

    assert started["status"] == "413 Request Entity Too Large"
    assert json.loads(b"".join(answer))["errors"][0]["code"] == "too_large"
    assert "CONTENT_LENGTH" not in environ


def test_a_chunked_body_a_server_cannot_end_is_411():
    started = {}
    environ = _environ(b"{}", terminated=False)

    answer = read_chunked_body(environ, lambda status, headers: started.update(status=status),
                               limit=None)

    assert started["status"] == "411 Length Required"
    assert json.loads(b"".join(answer))["errors"][0]["code"] == "length_required"


def test_a_chunked_body_is_handed_on_with_its_length():
    environ = _environ(b'{"name": "Ann"}', terminated=True)

    answer = read_chunked_body(environ, lambda status, headers: None, limit=None)

    assert answer is None
    assert environ["CONTENT_LENGTH"] == "15"
    assert environ["wsgi.input"].read() == b'{"name": "Ann"}'
