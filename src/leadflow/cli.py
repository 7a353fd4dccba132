"""The `leadflow` command: serve, worker, migrate, check, createuser, token, unlock, import,
export, demo, sweep, rebuild-keys, backup, restore, erase-person, export-person.

Errors print one line to stderr and exit 1; bad usage exits 2. Script output goes to stdout."""

from __future__ import annotations

import argparse
import os
import re
import sys
import time


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "leadflow.settings")
    import django

    django.setup()


def _fail(message: str) -> int:
    print(f"leadflow: {message}", file=sys.stderr)
    return 1


def cmd_serve(args) -> int:
    _setup()
    import signal
    import subprocess

    from django.core.management import call_command

    from leadflow.server import LIMIT_REQUEST_LINE

    call_command("collectstatic", interactive=False, verbosity=0)
    from django.db import connection

    workers = str(args.workers or default_workers(connection.vendor))
    argv = [
        sys.executable, "-m", "gunicorn", "leadflow.wsgi:application",
        "--bind", f"{args.host}:{args.port}", "--workers", workers,
        # gthread workers keep client connections alive between requests (sync workers close
        # each), in a thread of their own beside the request threads.
        "--worker-class", "leadflow.server.JsonErrorsWorker", "--threads", str(args.threads),
        # Gunicorn's longest request line; past it, and on any request it cannot parse, the
        # worker answers JSON (leadflow/server.py).
        "--limit-request-line", str(LIMIT_REQUEST_LINE),
        "--access-logfile", "-", "--timeout", "60",
    ]
    if args.no_worker:
        os.execvp(sys.executable, argv)  # noqa: S606 - replaces this process
    # One job consumer beside the web workers, so a single command runs a complete install.
    # A TERM to this process (a service manager stopping it) must stop both.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    from leadflow.jobs.consumer import die_with_parent

    server = subprocess.Popen(argv, preexec_fn=die_with_parent)  # noqa: S603
    consumer = None
    try:
        while server.poll() is None:
            if consumer is None or consumer.poll() is not None:
                if consumer is not None:  # killed or crashed: its jobs resume by the sweep
                    print(f"leadflow: the job consumer exited ({consumer.returncode}); "
                          "starting another", file=sys.stderr, flush=True)
                consumer = _start_consumer(args.jobs)
            time.sleep(CONSUMER_POLL)
        return server.returncode
    finally:
        for process in (server, consumer):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (server, consumer):
            if process is not None:
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()


# Seconds between two looks of `serve` at its job consumer (restarted when it has exited).
CONSUMER_POLL = 1.0


def _start_consumer(jobs: int):
    """`leadflow worker` as a child that dies with this process, however this one ends (a
    consumer left behind would go on running sweeps and tasks beside the next one)."""
    import subprocess

    from leadflow.jobs.consumer import die_with_parent

    return subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "leadflow", "worker", "--jobs", str(jobs)],
        preexec_fn=die_with_parent)  # serve runs no threads of its own


def default_workers(vendor: str) -> int:
    """Web worker processes by default. SQLite admits one writer at a time, and a worker
    waiting for it waits idle, so one worker per core keeps the writer busy. On PostgreSQL a
    worker also waits for each statement's round trip: two per core keep the cores busy."""
    cores = os.cpu_count() or 1
    return max(2, cores if vendor == "sqlite" else 2 * cores)


def cmd_worker(args) -> int:
    _setup()
    from leadflow.jobs.consumer import run_consumer

    run_consumer(jobs=args.jobs)
    return 0


def cmd_migrate(args) -> int:
    _setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1 if args.verbose else 0)
    from leadflow.core.db import optimize_database

    optimize_database()
    print("Database is up to date.")
    return 0


def cmd_check(args) -> int:
    _setup()
    if args.deploy:
        return check_deploy()
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError
    from django.db import connection

    try:
        call_command("check")
    except SystemCheckError as exc:
        # Django lists each problem as "<object>: (<id>) <message>" among headings.
        problems = [line.strip() for line in str(exc).splitlines()
                    if re.search(r"\(\w+\.[EW]\d+\)", line)]
        return _fail("; ".join(problems) or str(exc).strip())
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return _fail(f"{len(pending)} migrations are not applied; run 'leadflow migrate'.")
    print(f"OK: {connection.vendor} database reachable, migrations applied.")
    return 0


def check_deploy() -> int:
    """What a public install still lacks: one line per finding on stdout, then notes and a
    summary; exit 1 when anything is missing."""
    from leadflow.core.deploy import deploy_report

    report = deploy_report()
    for line in report.findings:
        print(line)
    for line in report.notes:
        print(f"Note: {line}")
    count = len(report.findings)
    if count:
        print(f"{count} thing{'s' if count != 1 else ''} a public install still lacks.")
        return 1
    print("Nothing a public install needs is missing.")
    return 0


def cmd_createuser(args) -> int:
    _setup()
    from leadflow.accounts import services
    from leadflow.accounts.models import User
    from leadflow.core.actor import Actor
    from leadflow.core.errors import DomainError
    from leadflow.projects.models import Project

    actor = Actor(None, "cli")
    is_admin = args.admin or args.role == "admin"
    role = None if args.role in (None, "admin") else args.role
    if role and not args.project:
        print("leadflow: --role needs --project SLUG", file=sys.stderr)
        return 2
    try:
        project = Project.objects.get(slug=args.project) if role else None
    except Project.DoesNotExist:
        return _fail(f"no project with slug '{args.project}'")
    try:
        user = User.objects.filter(email__iexact=args.email.strip()).first()
        created = user is None
        if created:
            user = services.create_user(
                args.email, actor=actor, name=args.name or "", password=args.password,
                is_admin=is_admin,
            )
        elif is_admin and not user.is_admin:
            services.update_user(user, actor=actor, is_admin=True)
        if args.password and not created:
            services.update_user(user, actor=actor, password=args.password)
        if role:
            services.set_membership(user, project, role, actor=actor)
    except DomainError as exc:
        return _fail(exc.detail)
    what = "created" if created else "updated"
    membership = f", {role} of {project.slug}" if role else ""
    print(f"User {user.email} {what}{' (admin)' if user.is_admin else ''}{membership}.")
    return 0


def cmd_token(args) -> int:
    _setup()
    from leadflow.accounts import services
    from leadflow.accounts.models import User
    from leadflow.core.actor import Actor

    user = User.objects.filter(email__iexact=args.email.strip(), is_active=True).first()
    if user is None:
        return _fail(f"no active user {args.email}")
    print(services.issue_token(user, actor=Actor(None, "cli"), name="cli"))
    return 0


def cmd_unlock(args) -> int:
    _setup()
    from leadflow.accounts import services
    from leadflow.accounts.models import User
    from leadflow.core.actor import Actor

    user = User.objects.filter(email__iexact=args.email.strip()).first()
    if user is None:
        return _fail(f"no user {args.email}")
    forgotten = services.unlock_user(user, actor=Actor(None, "cli"))
    print(f"{user.email} can sign in again ({forgotten} failed sign-in"
          f"{'' if forgotten == 1 else 's'} forgotten).")
    return 0


def cmd_sweep(args) -> int:
    _setup()
    from leadflow.sweeps import run_hourly_sweeps, run_sweeps

    counts = run_sweeps() | run_hourly_sweeps()
    print(", ".join(f"{name.replace('_', ' ')}: {n}" for name, n in counts.items()))
    return 0


def cmd_rebuild_keys(args) -> int:
    _setup()
    from leadflow.core.actor import Actor
    from leadflow.intake.services.keys import rebuild_keys

    report = rebuild_keys(actor=Actor(None, "cli"))
    for c in report.collisions:
        print(f"collision: {c['kind']} {c['value']} kept by lead {c['kept_by']}, "
              f"also lead {c['lead']}")
    print(f"Rebuilt {report.keys} keys for {report.leads} leads; "
          f"{len(report.collisions)} collisions.")
    return 0


def _export_filters(args, project):
    """The lead filters of `leadflow export`: ids or names (stage, source, pool, list) and an
    owner's id or e-mail, looked up in the project. Errors: ValueError with the message."""
    from datetime import date, datetime, time

    from django.utils import timezone

    from leadflow.accounts.models import User
    from leadflow.crm.filters import LeadFilters
    from leadflow.lists.models import LeadList, list_key
    from leadflow.projects.models import Pool, Source, Stage

    def named(model, value, label, key=None):
        if value is None:
            return None
        qs = model.objects.filter(project=project)
        found = (qs.filter(pk=int(value)) if value.isdigit()
                 else qs.filter(key=key(value)) if key else qs.filter(name__iexact=value.strip()))
        ids = list(found.values_list("pk", flat=True)[:2])
        if len(ids) != 1:
            raise ValueError(f"no {label} '{value}' in project {project.slug}")
        return ids[0]

    def day(value, label):
        if value is None:
            return None
        try:
            parsed = (datetime.fromisoformat(value) if "T" in value
                      else datetime.combine(date.fromisoformat(value), time.min))
        except ValueError:
            raise ValueError(f"{label} must be a date (YYYY-MM-DD) or an ISO date-time")
        return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed)

    owner = None
    if args.owner is not None:
        user = (User.objects.filter(pk=int(args.owner)) if args.owner.isdigit()
                else User.objects.filter(email__iexact=args.owner.strip())).first()
        if user is None:
            raise ValueError(f"no user '{args.owner}'")
        owner = user.pk
    return LeadFilters(
        q=args.q, project=project.pk, status=args.status,
        stage=named(Stage, args.stage, "stage"), source=named(Source, args.source, "source"),
        owner=owner, pool=named(Pool, args.pool, "pool"), tag=args.tag,
        unassigned=True if args.unassigned else None, retired=True if args.retired else None,
        list=named(LeadList, args.list, "list", key=list_key),
        bucket=int(args.bucket) if args.bucket else None,
        created_after=day(args.created_after, "--created-after"),
        created_before=day(args.created_before, "--created-before"),
        next_call_before=day(args.next_call_before, "--next-call-before"),
    )


def cmd_export(args) -> int:
    _setup()
    from leadflow.core.actor import Actor
    from leadflow.core.errors import DomainError
    from leadflow.exports.services import write_export
    from leadflow.projects.models import Project

    project = Project.objects.filter(slug=args.project).first()
    if project is None:
        return _fail(f"no project with slug '{args.project}'")
    fmt = args.format or ("xlsx" if args.output.lower().endswith(".xlsx") else "csv")
    columns = args.columns.split(",") if args.columns else None
    try:
        filters = _export_filters(args, project)
        count = write_export(filters, args.output, actor=Actor(None, "cli"), fmt=fmt,
                             columns=columns)
    except ValueError as exc:
        return _fail(str(exc))
    except DomainError as exc:
        return _fail(exc.detail)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    print(f"Exported {count} leads to {args.output}.")
    return 0


def parse_map(text: str | None) -> dict[str, str]:
    """`--map "First Name=name,Cell=phone2"` → {column: field}; ValueError when malformed."""
    mapping: dict[str, str] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        column, sep, field = part.rpartition("=")
        if not sep or not column.strip():
            raise ValueError(f"--map expects COLUMN=field, got '{part.strip()}'")
        mapping[column.strip()] = field.strip()
    return mapping


def cmd_import(args) -> int:
    try:
        mapping = parse_map(args.map)
    except ValueError as exc:
        print(f"leadflow: {exc}", file=sys.stderr)
        return 2
    if not os.path.isfile(args.file):
        return _fail(f"no such file: {args.file}")
    _setup()
    from leadflow.core.actor import Actor
    from leadflow.core.errors import DomainError
    from leadflow.imports import services
    from leadflow.imports.models import OUTCOMES
    from leadflow.projects.models import Project

    project = Project.objects.filter(slug=args.project).first()
    if project is None:
        return _fail(f"no project with slug '{args.project}'")
    actor = Actor(None, "cli")
    tty = sys.stderr.isatty()

    def progress(job) -> None:
        if not tty:
            return
        total = job.total or 0
        share = job.progress / total if total else 1.0
        bar = "#" * int(share * 30)
        sys.stderr.write(f"\r[{bar:<30}] {job.progress:,}/{total:,} rows ({share:.0%})")
        sys.stderr.flush()

    try:
        services.check_import_allowed(actor, project, policy=args.policy,
                                      list_name=args.list or "")
        upload = services.store_upload(args.file, os.path.basename(args.file))
        imp = services.start_import(project, upload, actor=actor, mapping=mapping,
                                    policy=args.policy, list_name=args.list or "",
                                    dry_run=args.dry_run, enqueue=False)
        imp = services.run_import(imp, on_progress=progress)
    except DomainError as exc:
        if tty:
            sys.stderr.write("\n")
        details = "; ".join(f"{e.field}: {e.message}" for e in getattr(exc, "errors", []))
        return _fail(details or exc.detail)
    if tty:
        sys.stderr.write("\n")
    job = imp.job
    if job.state != "done":
        return _fail(f"import #{imp.pk} stopped: {job.error or job.state}")
    used = ", ".join(f"{c}={t}" for c, t in imp.mapping.items())
    print(f"Mapping: {used}", file=sys.stderr)
    for warning, n in imp.warnings.items():
        print(f"warning: {warning} ({n} rows)", file=sys.stderr)
    for problem in job.errors[:5]:
        print(f"row {problem['row']}: {problem['reason']}", file=sys.stderr)
    if job.counts.get("rejected"):
        print(f"Rejected rows: GET /api/v1/imports/{imp.pk}/errors", file=sys.stderr)
    prefix = "Dry run, nothing written: " if imp.dry_run else ""
    print(prefix + ", ".join(f"{name} {job.counts.get(name, 0)}" for name in OUTCOMES))
    return 0


def cmd_demo(args) -> int:
    _setup()
    from leadflow.demo import seed_demo

    summary = seed_demo(leads=args.leads, only_if_empty=args.if_empty)
    print(summary)
    return 0


def _size(size: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1000
    return ""


def cmd_backup(args) -> int:
    _setup()
    from leadflow.privacy.backup import BackupError, backup_database

    try:
        result = backup_database(args.file)
    except BackupError as exc:
        return _fail(str(exc))
    print(f"Backed up {result.leads:,} leads to {args.file} ({_size(result.size)}).")
    return 0


def _confirmed(question: str) -> bool | None:
    """The operator's answer on a terminal; None without a terminal."""
    if not sys.stdin.isatty():
        return None
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_restore(args) -> int:
    _setup()
    from django.db import connection

    from leadflow.privacy.backup import BackupError, check_restorable, restore_database

    try:
        manifest = check_restorable(args.file)
    except BackupError as exc:
        return _fail(str(exc))
    if not args.yes:
        where = connection.settings_dict["NAME"]
        answer = _confirmed(f"Replace everything in database {where} with the backup of "
                            f"{manifest.created_at} ({manifest.leads:,} leads)?")
        if answer is None:
            print("leadflow: restore replaces the whole database; pass --yes to confirm",
                  file=sys.stderr)
            return 2
        if not answer:
            return _fail("restore cancelled; nothing changed")
    try:
        restore_database(args.file)
    except BackupError as exc:
        return _fail(str(exc))
    print(f"Restored {args.file}.")
    return 0


def _person_arguments(args):
    """(project, email, phone) of erase-person and export-person; an identifier with an @ is
    an e-mail address, anything else a phone number."""
    from leadflow.projects.models import Project

    project = Project.objects.filter(slug=args.project).first()
    if project is None:
        raise LookupError(f"no project with slug '{args.project}'")
    value = args.person.strip()
    return (project, value, None) if "@" in value else (project, None, value)


def _domain_message(exc) -> str:
    errors = getattr(exc, "errors", None)
    return "; ".join(e.message for e in errors) if errors else exc.detail


def cmd_erase_person(args) -> int:
    _setup()
    from leadflow.core.actor import Actor
    from leadflow.core.errors import DomainError
    from leadflow.privacy import services

    actor = Actor(None, "cli")
    try:
        project, email, phone = _person_arguments(args)
        person = services.find_person(project, actor=actor, email=email, phone=phone)
        if person.found and not args.yes:
            names = ", ".join(person.leads().values_list("name", flat=True)[:10]) or "none"
            held = services.describe_counts({"leads": len(person.lead_ids),
                                             "clients": len(person.client_ids),
                                             "submissions": len(person.submission_ids)})
            answer = _confirmed(f"Erase for good {held} of {person.given} in project "
                                f"{project.slug} (leads: {names})?")
            if answer is None:
                print("leadflow: erasing cannot be undone; pass --yes to confirm",
                      file=sys.stderr)
                return 2
            if not answer:
                return _fail("erasure cancelled; nothing changed")
        result = services.erase_person(project, actor=actor, email=email, phone=phone)
    except LookupError as exc:
        return _fail(str(exc))
    except DomainError as exc:
        return _fail(_domain_message(exc))
    if result.erasure is None:
        print(f"No data held about {result.person.given} in project {project.slug}; "
              "nothing erased.")
        return 0
    print(f"Erased {services.describe_counts(result.counts)} of {result.person.given} in "
          f"project {project.slug}.")
    return 0


def cmd_export_person(args) -> int:
    _setup()
    import json

    from django.core.serializers.json import DjangoJSONEncoder

    from leadflow.core.actor import Actor
    from leadflow.core.errors import DomainError
    from leadflow.privacy import services

    try:
        project, email, phone = _person_arguments(args)
        data = services.export_person(project, actor=Actor(None, "cli"), email=email,
                                      phone=phone)
    except LookupError as exc:
        return _fail(str(exc))
    except DomainError as exc:
        return _fail(_domain_message(exc))
    text = json.dumps(data, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False) + "\n"
    if not args.output:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as exc:
        return _fail(f"cannot write {args.output}: {exc.strerror or exc}")
    counts = {"leads": len(data["leads"]), "clients": len(data["clients"]),
              "submissions": len(data["submissions"])}
    print(f"Exported {services.describe_counts(counts)} of {args.person.strip()} to "
          f"{args.output}.")
    return 0


# Background tasks one consumer runs at once: user work (imports, exports, bulk actions) starts
# while housekeeping or another long job runs.
DEFAULT_JOBS = 4


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return int(text)


def _jobs_argument(parser) -> None:
    parser.add_argument("--jobs", type=_positive, default=DEFAULT_JOBS, metavar="N",
                        help=f"background tasks the job consumer runs at once "
                             f"(default {DEFAULT_JOBS})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadflow", description="Leadflow lead management.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the web app and API with gunicorn")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    # One request thread per worker: two threads of one process take turns on the interpreter
    # lock, and a thread back from the database waits for the other's turn to end (up to 5 ms),
    # while it may hold SQLite's write lock. Intake throughput measured 30-40 % lower with 4.
    p.add_argument("--threads", type=int, default=1,
                   help="request threads per worker (default 1)")
    p.add_argument("--workers", type=int,
                   help="worker processes (default: 1 per core on SQLite, 2 on PostgreSQL)")
    p.add_argument("--no-worker", action="store_true",
                   help="do not start a job consumer beside the web server")
    _jobs_argument(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run a background job consumer")
    _jobs_argument(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("check", help="check settings, database and migrations")
    p.add_argument("--deploy", action="store_true",
                   help="list what a public install still lacks (exit 1 when anything is)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("createuser", help="create a user or add a membership")
    p.add_argument("email")
    p.add_argument("--admin", action="store_true")
    p.add_argument("--role", choices=["manager", "agent", "admin"])
    p.add_argument("--project")
    p.add_argument("--password")
    p.add_argument("--name")
    p.set_defaults(func=cmd_createuser)

    p = sub.add_parser("token", help="print a new API token for a user")
    p.add_argument("email")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("unlock", help="lift a user's sign-in lockout after failed sign-ins")
    p.add_argument("email")
    p.set_defaults(func=cmd_unlock)

    p = sub.add_parser("sweep", help="process stalled submissions and other time-based work")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("rebuild-keys", help="recompute duplicate keys after an option change")
    p.set_defaults(func=cmd_rebuild_keys)

    p = sub.add_parser("export", help="export a project's leads (or a filter of them) to a "
                       "CSV or XLSX file")
    p.add_argument("--project", required=True, help="project slug")
    p.add_argument("-o", "--output", required=True, help="file to write")
    p.add_argument("--format", choices=["csv", "xlsx"],
                   help="default: xlsx for a .xlsx file, else csv")
    p.add_argument("--columns", help="comma-separated column names (custom.<field> too)")
    p.add_argument("--q", help="search: name, company, e-mail, phone or id")
    p.add_argument("--status", help="NOT_CONTACTED, CONTACTED, QUALIFIED, CONVERTED or LOST")
    p.add_argument("--stage", help="stage id or name")
    p.add_argument("--source", help="source id or name")
    p.add_argument("--owner", help="owner's user id or e-mail")
    p.add_argument("--pool", help="pool id or name")
    p.add_argument("--tag", help="tag name")
    p.add_argument("--list", help="list id or name")
    p.add_argument("--bucket", type=int, help="bucket id")
    p.add_argument("--unassigned", action="store_true", help="only unassigned leads")
    p.add_argument("--retired", action="store_true", help="only retired leads")
    p.add_argument("--created-after", help="date or ISO date-time")
    p.add_argument("--created-before", help="date or ISO date-time")
    p.add_argument("--next-call-before", help="date or ISO date-time")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import", help="import leads from a CSV or XLSX file")
    p.add_argument("file")
    p.add_argument("--project", required=True, metavar="SLUG")
    p.add_argument("--list", metavar="NAME", help="put the leads into this list")
    p.add_argument("--policy", choices=["skip", "update", "move", "keep-both"], default="skip",
                   help="what to do with duplicates (default skip)")
    p.add_argument("--map", metavar="COLUMN=field,...",
                   help="override the suggested mapping, e.g. 'Cell=phone2,Notes=custom.notes'")
    p.add_argument("--dry-run", action="store_true", help="check everything, write nothing")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("demo", help="seed the realistic demo project (idempotent)")
    p.add_argument("--leads", type=int, default=300)
    p.add_argument("--if-empty", action="store_true", help="only when the database has no users")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("backup", help="write a consistent backup of the database (the server "
                       "may keep running)")
    p.add_argument("file")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the database with a backup (stop the server "
                       "first)")
    p.add_argument("file")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser("erase-person", help="erase everything held about one person in a "
                       "project (leaves an audit record without personal data)")
    p.add_argument("person", metavar="EMAIL|PHONE")
    p.add_argument("--project", required=True, metavar="SLUG")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_erase_person)

    p = sub.add_parser("export-person", help="everything held about one person in a project, "
                       "as JSON")
    p.add_argument("person", metavar="EMAIL|PHONE")
    p.add_argument("--project", required=True, metavar="SLUG")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p.set_defaults(func=cmd_export_person)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - the CLI's one-line error contract
        from django.core.exceptions import ImproperlyConfigured
        from django.db import DatabaseError

        if isinstance(exc, DatabaseError | ImproperlyConfigured):
            return _fail(f"database: {str(exc).splitlines()[0]}")
        raise


if __name__ == "__main__":
    sys.exit(main())
