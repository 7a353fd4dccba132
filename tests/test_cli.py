"""The `leadflow` command: createuser, token, check (and check --deploy), unlock, sweep,
rebuild-keys (DESIGN §5)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from leadflow.accounts.models import Membership, ThrottleHit, User
from leadflow.accounts.services import authenticate_token
from leadflow.cli import main
from leadflow.crm.models import Lead
from leadflow.intake.models import DuplicateKey
from leadflow.projects.models import Pool
from leadflow.projects.services import update_settings
from tests.factories import (
    SYSTEM,
    default_pool,
    make_bucket,
    make_lead,
    make_project,
    make_user,
    store_submission,
)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --- createuser --------------------------------------------------------------------------------


def test_createuser_creates_a_user_who_can_log_in(capsys):
    code, out, err = run(capsys, "createuser", "New.Person@Example.com", "--password",
                         "secret-123", "--name", "New Person")

    assert (code, out, err) == (0, "User new.person@example.com created.\n", "")
    user = User.objects.get()
    assert (user.email, user.name, user.is_admin) == ("new.person@example.com", "New Person",
                                                      False)
    assert user.check_password("secret-123")
    assert not Membership.objects.exists()


def test_createuser_admin(capsys):
    code, out, _err = run(capsys, "createuser", "boss@example.com", "--admin")

    assert (code, out) == (0, "User boss@example.com created (admin).\n")
    assert User.objects.get(email="boss@example.com").is_admin is True


def test_createuser_role_admin_means_admin(capsys):
    code, _out, _err = run(capsys, "createuser", "boss@example.com", "--role", "admin")

    assert code == 0
    assert User.objects.get(email="boss@example.com").is_admin is True
    assert not Membership.objects.exists()


def test_createuser_adds_a_membership_to_an_existing_email(capsys):
    project = make_project()
    existing = make_user(email="ann@example.com")

    code, out, err = run(capsys, "createuser", "ANN@example.com", "--role", "manager",
                         "--project", project.slug)

    assert (code, err) == (0, "")
    assert out == f"User ann@example.com updated, manager of {project.slug}.\n"
    assert User.objects.count() == 1
    membership = Membership.objects.get(user=existing)
    assert (membership.project_id, membership.role, membership.manage_leads) == (
        project.pk, "manager", True)


def test_createuser_agent_joins_the_default_pool(capsys):
    project = make_project()

    code, _out, _err = run(capsys, "createuser", "agent@example.com", "--role", "agent",
                           "--project", project.slug)

    assert code == 0
    user = User.objects.get(email="agent@example.com")
    assert Membership.objects.get(user=user).role == "agent"
    assert list(Pool.objects.filter(members=user)) == [default_pool(project)]


def test_createuser_with_an_unknown_project_fails_with_one_line(capsys):
    code, out, err = run(capsys, "createuser", "x@example.com", "--role", "agent",
                         "--project", "nowhere")

    assert (code, out) == (1, "")
    assert err == "leadflow: no project with slug 'nowhere'\n"
    assert not User.objects.exists()


def test_createuser_role_without_project_is_bad_usage(capsys):
    code, out, err = run(capsys, "createuser", "x@example.com", "--role", "manager")

    assert (code, out) == (2, "")
    assert err == "leadflow: --role needs --project SLUG\n"
    assert not User.objects.exists()


def test_createuser_with_an_invalid_email_fails_with_one_line(capsys):
    code, out, err = run(capsys, "createuser", "not-an-email")

    assert (code, out) == (1, "")
    assert err.startswith("leadflow: email: ")
    assert err.count("\n") == 1
    assert not User.objects.exists()


def test_createuser_with_a_short_password_fails(capsys):
    code, _out, err = run(capsys, "createuser", "x@example.com", "--password", "short")

    assert code == 1
    assert err == "leadflow: password: At least 8 characters.\n"
    assert not User.objects.exists()


def test_createuser_with_an_unknown_role_is_bad_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["createuser", "x@example.com", "--role", "owner"])

    assert exc.value.code == 2
    assert not User.objects.exists()


def test_createuser_sets_the_password_of_an_existing_user(capsys):
    make_user(email="ann@example.com")

    code, out, _err = run(capsys, "createuser", "ann@example.com", "--password", "new-secret")

    assert (code, out) == (0, "User ann@example.com updated.\n")
    assert User.objects.get().check_password("new-secret")


# --- token -------------------------------------------------------------------------------------


def test_token_prints_only_a_token_that_authenticates(capsys, client):
    project = make_project()
    user = make_user(project, "agent", email="ann@example.com")

    code, out, err = run(capsys, "token", "Ann@Example.com")

    assert (code, err) == (0, "")
    token = out.strip()
    assert out == f"{token}\n"
    assert " " not in token and len(token) >= 43
    assert authenticate_token(token) == user
    response = client.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert (response.status_code, response.json()["id"]) == (200, user.pk)


def test_token_for_an_unknown_email_fails_with_one_line(capsys):
    code, out, err = run(capsys, "token", "nobody@example.com")

    assert (code, out) == (1, "")
    assert err == "leadflow: no active user nobody@example.com\n"


def test_token_for_a_deactivated_user_fails(capsys):
    user = make_user(email="gone@example.com")
    User.objects.filter(pk=user.pk).update(is_active=False)

    code, out, _err = run(capsys, "token", "gone@example.com")

    assert (code, out) == (1, "")


# --- check -------------------------------------------------------------------------------------


def test_check_reports_a_reachable_migrated_database(capsys):
    code, out, err = run(capsys, "check")

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "System check identified no issues (0 silenced).",
        f"OK: {connection.vendor} database reachable, migrations applied.",
    ]


def test_check_fails_with_one_line_when_migrations_are_pending(capsys, monkeypatch):
    monkeypatch.setattr(MigrationExecutor, "migration_plan",
                        lambda self, targets: [("migration", False)] * 2)

    code, _out, err = run(capsys, "check")

    assert code == 1
    assert err == "leadflow: 2 migrations are not applied; run 'leadflow migrate'.\n"


def test_check_fails_with_one_line_on_a_bad_trusted_proxies_entry(capsys, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1", "proxy.example.com"]

    code, _out, err = run(capsys, "check")

    assert code == 1
    assert err == ("leadflow: ?: (leadflow.E001) TRUSTED_PROXIES: 'proxy.example.com' is "
                   "neither an IP address nor a network such as 10.0.0.0/8.\n")


# --- unlock ------------------------------------------------------------------------------------


def test_unlock_lifts_a_sign_in_lockout(capsys):
    make_user(email="ann@example.com")
    now = timezone.now()
    ThrottleHit.objects.bulk_create(
        ThrottleHit(key="sign-in:account:ann@example.com", at=now - timedelta(seconds=i))
        for i in range(10))

    code, out, _log = run(capsys, "unlock", "Ann@Example.com")

    assert code == 0
    assert out == "ann@example.com can sign in again (10 failed sign-ins forgotten).\n"
    assert not ThrottleHit.objects.exists()


def test_unlock_of_an_unknown_user_fails_with_one_line(capsys):
    code, out, err = run(capsys, "unlock", "nobody@example.com")

    assert (code, out, err) == (1, "", "leadflow: no user nobody@example.com\n")


# --- check --deploy ----------------------------------------------------------------------------


def public_install(settings, monkeypatch, tmp_path, *, engine="django.db.backends.postgresql"):
    """Settings of an install with nothing missing: HTTPS on, a host name, PostgreSQL and Redis,
    SECRET_KEY from the environment, an e-mail host."""
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["leads.example.com"]
    settings.HTTPS = True
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    settings.SESSION_COOKIE_SECURE = True
    settings.CSRF_COOKIE_SECURE = True
    settings.REDIS_URL = "redis://127.0.0.1:6379/0"
    settings.SECRET_KEY_FILE = None
    settings.LEADFLOW_HOME = tmp_path
    monkeypatch.setitem(settings.DATABASES["default"], "ENGINE", engine)
    monkeypatch.setenv("EMAIL_HOST", "smtp.example.com")
    # Set for the browser tests when they are collected in the same run; Django's deployment
    # checks rightly refuse it (async.E001).
    monkeypatch.delenv("DJANGO_ALLOW_ASYNC_UNSAFE", raising=False)


def test_check_deploy_passes_when_nothing_is_missing(capsys, settings, monkeypatch, tmp_path):
    public_install(settings, monkeypatch, tmp_path)

    code, out, err = run(capsys, "check", "--deploy")

    assert (code, out, err) == (0, "Nothing a public install needs is missing.\n", "")


def test_check_deploy_lists_each_missing_piece_in_one_sentence(capsys, settings, monkeypatch,
                                                               tmp_path):
    public_install(settings, monkeypatch, tmp_path)
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["*"]
    settings.HTTPS = False
    for name in ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
                 "SECURE_HSTS_INCLUDE_SUBDOMAINS"):
        setattr(settings, name, False)
    settings.SECURE_HSTS_SECONDS = 0
    settings.REDIS_URL = ""
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 60)
    key_file.chmod(0o644)
    settings.SECRET_KEY_FILE = key_file
    monkeypatch.delenv("EMAIL_HOST")

    code, out, err = run(capsys, "check", "--deploy")

    assert (code, err) == (1, "")
    assert out.splitlines() == [
        "DEBUG is on, so error pages show code and settings to anyone: unset DEBUG.",
        "ALLOWED_HOSTS is '*', so any host name is answered: set ALLOWED_HOSTS to the public "
        "host name, e.g. ALLOWED_HOSTS=leads.example.com.",
        "HTTPS is not on, so passwords and session cookies can travel in clear text: serve the "
        "site through a TLS proxy and set LEADFLOW_HTTPS=1 (or an https:// LEADFLOW_SITE_URL).",
        f"REDIS_URL is unset, so jobs queue in a local SQLite file ({tmp_path}/huey.sqlite3) "
        "that workers on other hosts never see: set REDIS_URL, e.g. redis://127.0.0.1:6379/0.",
        f"The generated secret key {key_file} can be read by other users (mode 0644): run "
        f"chmod 600 {key_file}, or set SECRET_KEY.",
        f"EMAIL_HOST is unset, so e-mail is written to files under {tmp_path}/mail instead of "
        "being sent: set EMAIL_HOST (and EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, "
        "EMAIL_USE_TLS, DEFAULT_FROM_EMAIL).",
        "6 things a public install still lacks.",
    ]


def test_check_deploy_accepts_a_generated_key_readable_by_its_owner_only(capsys, settings,
                                                                         monkeypatch, tmp_path):
    public_install(settings, monkeypatch, tmp_path)
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 60)
    key_file.chmod(0o600)
    settings.SECRET_KEY_FILE = key_file

    code, out, _err = run(capsys, "check", "--deploy")

    assert (code, out) == (0, "Nothing a public install needs is missing.\n")


def test_check_deploy_on_sqlite_only_notes_what_more_hosts_need(capsys, settings, monkeypatch,
                                                                tmp_path):
    public_install(settings, monkeypatch, tmp_path, engine="leadflow.core.sqlite")
    settings.REDIS_URL = ""

    code, out, _err = run(capsys, "check", "--deploy")

    assert code == 0
    assert out.splitlines() == [
        "Note: SQLite is fine for one host; for more than one web host use PostgreSQL "
        "(DATABASE_URL) and Redis (REDIS_URL).",
        "Nothing a public install needs is missing.",
    ]


def test_check_deploy_keeps_djangos_own_findings_with_their_id(capsys, settings, monkeypatch,
                                                               tmp_path):
    public_install(settings, monkeypatch, tmp_path)
    settings.SECURE_SSL_REDIRECT = False

    code, out, _err = run(capsys, "check", "--deploy")

    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Your SECURE_SSL_REDIRECT setting is not set to True.")
    assert lines[0].endswith("(security.W008)")
    assert lines[1] == "1 thing a public install still lacks."


def test_check_without_deploy_leaves_the_deploy_findings_out(capsys, settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["*"]

    code, out, _err = run(capsys, "check")

    assert code == 0
    assert out.splitlines() == [
        "System check identified no issues (0 silenced).",
        f"OK: {connection.vendor} database reachable, migrations applied.",
    ]


def test_no_command_is_bad_usage(capsys):
    with pytest.raises(SystemExit) as exc:
        main([])

    assert exc.value.code == 2


# --- sweep -------------------------------------------------------------------------------------


def test_sweep_processes_stalled_submissions_and_prints_the_counts(capsys):
    project = make_project()
    bucket, _key = make_bucket(project)
    stalled = store_submission(bucket, {"name": "Ann", "email": "ann@example.com"},
                               created_at=timezone.now() - timedelta(minutes=5))

    code, out, err = run(capsys, "sweep")

    assert (code, err) == (0, "")
    assert out == ("submissions processed: 1, leads checked for duplicates: 1, "
                   "rate counters forgotten: 0, throttle hits forgotten: 0, claims lapsed: 0, "
                   "offers lapsed: 0, "
                   "leads retired: 0, jobs resumed: 0, export files removed: 0, "
                   "load counters fixed: 0\n")
    stalled.refresh_from_db()
    assert (stalled.status, stalled.lead_id) == ("processed", Lead.objects.get().pk)

    code, out, _err = run(capsys, "sweep")

    assert (code, out) == (0, "submissions processed: 0, leads checked for duplicates: 0, "
                              "rate counters forgotten: 0, throttle hits forgotten: 0, "
                              "claims lapsed: 0, offers lapsed: 0, "
                              "leads retired: 0, jobs resumed: 0, export files removed: 0, "
                              "load counters fixed: 0\n")


# --- rebuild-keys ------------------------------------------------------------------------------


def test_rebuild_keys_reports_collisions_and_a_summary(capsys):
    project = make_project()
    older = make_lead(project, name="Ann", email="ann+news@example.com")
    newer = make_lead(project, name="Ann", email="ann@example.com", phones=["+12125550100"])
    update_settings(actor=SYSTEM, email_ignore_plus=True)

    code, out, err = run(capsys, "rebuild-keys")

    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"collision: email ann@example.com kept by lead {older.pk}, also lead {newer.pk}",
        "Rebuilt 3 keys for 2 leads; 1 collisions.",
    ]
    assert sorted(DuplicateKey.objects.values_list("lead_id", "kind", "canonical")) == sorted(
        [(older.pk, "email", True), (newer.pk, "email", False), (newer.pk, "phone", True)])


def test_rebuild_keys_without_collisions(capsys):
    project = make_project()
    make_lead(project, name="Ann", email="ann@example.com")

    code, out, _err = run(capsys, "rebuild-keys")

    assert (code, out) == (0, "Rebuilt 1 keys for 1 leads; 0 collisions.\n")


def test_serve_runs_one_thread_per_worker_and_fewer_workers_on_sqlite(monkeypatch):
    from leadflow import cli

    monkeypatch.setattr(cli.os, "cpu_count", lambda: 4)
    args = cli.build_parser().parse_args(["serve"])

    assert args.threads == 1
    assert cli.default_workers("sqlite") == 4
    assert cli.default_workers("postgresql") == 8
    monkeypatch.setattr(cli.os, "cpu_count", lambda: 1)
    assert cli.default_workers("sqlite") == 2


def test_serve_and_worker_run_four_background_tasks_at_once_unless_told():
    from leadflow import cli

    parser = cli.build_parser()

    assert parser.parse_args(["serve"]).jobs == 4
    assert parser.parse_args(["worker", "--jobs", "8"]).jobs == 8
    with pytest.raises(SystemExit) as refused:
        parser.parse_args(["worker", "--jobs", "0"])
    assert refused.value.code == 2


def _children_of(pid: int) -> list[int]:
    import subprocess

    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(child) for child in out.split()]


def _consumers_of(pid: int) -> list[int]:
    """`leadflow worker` children of process `pid`."""
    import subprocess

    found = []
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    for child in children.stdout.split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"worker" in cmdline:
            found.append(int(child))
    return found


def _wait_for(condition, seconds: float):
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _start_serve(tmp_path):
    """`leadflow serve` on a free port with a SQLite database of its own (stderr piped)."""
    import os
    import socket
    import subprocess
    import sys

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "LEADFLOW_HOME": str(tmp_path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}"}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("REDIS_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "leadflow", "serve", "--port", str(port), "--workers", "1",
         "--jobs", "1"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_serve_starts_its_job_consumer_again_when_it_is_killed(tmp_path):
    import os
    import signal

    server = _start_serve(tmp_path)
    try:
        [first] = _wait_for(lambda: _consumers_of(server.pid), 30)
        # Its scheduler and its worker: processes of their own, which must not outlive it.
        children = _wait_for(lambda: _children_of(first) if len(_children_of(first)) == 2
                             else None, 30)
        # Background work yields the processors to the web workers.
        assert os.getpriority(os.PRIO_PROCESS, first) == min(19, os.getpriority(
            os.PRIO_PROCESS, server.pid) + 10)
        os.kill(first, signal.SIGKILL)

        [second] = _wait_for(lambda: [p for p in _consumers_of(server.pid) if p != first], 15)

        assert second != first and server.poll() is None
        _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 10)
    finally:
        server.terminate()
        _out, err = server.communicate(timeout=20)
    assert b"the job consumer exited (-9); starting another" in err


def test_a_killed_serve_leaves_no_web_server_or_job_consumer_behind(tmp_path):
    import os
    import signal

    server = _start_serve(tmp_path)
    try:
        [consumer] = _wait_for(lambda: _consumers_of(server.pid), 30)
        children = _children_of(server.pid)  # gunicorn and the consumer

        server.kill()
        server.wait(timeout=10)

        _wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in children), 15)
        assert consumer in children
    finally:
        for pid in _children_of(server.pid):
            os.kill(pid, signal.SIGKILL)
