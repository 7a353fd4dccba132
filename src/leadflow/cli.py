"""The `leadflow` command: serve, worker, migrate, check, createuser, token, import, export,
demo, sweep, rebuild-keys.

Errors print one line to stderr and exit 1; bad usage exits 2. Script output goes to stdout."""

from __future__ import annotations

import argparse
import os
import sys


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
    consumer = subprocess.Popen([sys.executable, "-m", "leadflow", "worker"])  # noqa: S603
    # A TERM to this process (a service manager stopping it) must stop the consumer too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        return subprocess.call(argv)  # noqa: S603
    finally:
        consumer.terminate()
        consumer.wait(timeout=10)


def default_workers(vendor: str) -> int:
    """Web worker processes by default. SQLite admits one writer at a time, and a worker
    waiting for it waits idle, so one worker per core keeps the writer busy. On PostgreSQL a
    worker also waits for each statement's round trip: two per core keep the cores busy."""
    cores = os.cpu_count() or 1
    return max(2, cores if vendor == "sqlite" else 2 * cores)


def cmd_worker(args) -> int:
    _setup()
    from django.core.management import call_command

    call_command("run_huey")
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
    from django.core.management import call_command
    from django.db import connection

    call_command("check")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if pending:
        return _fail(f"{len(pending)} migrations are not applied; run 'leadflow migrate'.")
    print(f"OK: {connection.vendor} database reachable, migrations applied.")
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
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run a background job consumer")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("migrate", help="create or upgrade the database")
    p.add_argument("--verbose", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("check", help="check settings, database and migrations")
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
