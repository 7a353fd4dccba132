"""Importing a CSV or XLSX file of people into a project (DESIGN §1 "Import").

Every row ends created, updated, moved, skipped or rejected (with a reason). Rows go through
`ingest_batch`, the set-based form of `ingest` that batch intake uses, so they are checked
against the same duplicate keys; a person met twice in the file is a duplicate of its first
row. Duplicate policies: `skip`; `update` (the existing lead takes the row's non-blank contact
and custom values); `move` (update, and into the chosen list); `keep-both` (a second lead
holding the taken keys non-canonically; managers only).

Who may import: members with `create_lead` — an agent's new leads are theirs, in their pool,
and an agent updates only leads they own; choosing a list, `move` and `keep-both` need
`manage_leads`. A manager's new leads wait unowned in the default pool.

An import is a job row (`jobs`): each batch commits its leads, keys, events, rejected rows,
counts and the job's cursor together, so a killed import resumes after its last committed batch
(the sweep wakes it) and finishes with the exact counts and no duplicate. A dry run does all the
reading, validation and duplicate checks and writes no lead, key, list or event.

Timeline: LEAD_CREATED for created leads, LEAD_UPDATED (with the list when moved) for updated
and moved ones; one batch id per import."""

from __future__ import annotations

import csv
import io
import multiprocessing
import os
import shutil
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from leadflow.accounts import access as project_access
from leadflow.accounts.models import Grant
from leadflow.core.actor import Actor
from leadflow.core.db import Slices, checkpoint, insert_rows, update_rows
from leadflow.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from leadflow.crm.access import can
from leadflow.crm.contact import LeadInput
from leadflow.crm.models import MAX_PHONES, Lead, LeadWord
from leadflow.crm.search import words_of
from leadflow.imports import workers
from leadflow.imports.mapping import (
    RowPlan,
    RowResult,
    apply_mapping,
    fold_header,
    normalize_rows,
    suggest,
)
from leadflow.imports.models import OUTCOMES, Import, ImportPolicy, ImportRejection
from leadflow.imports.reading import FileInfo, RowReader, inspect_file
from leadflow.intake.keys import derive_keys, scope_for
from leadflow.intake.models import DuplicateKey, KeyKind
from leadflow.intake.services.bulk import BatchItem, ingest_batch
from leadflow.intake.services.ingest import find_canonical, first_open_stage
from leadflow.jobs import services as jobs
from leadflow.jobs.models import Job
from leadflow.lists.models import LeadList, list_key
from leadflow.projects.fields import definitions_of
from leadflow.projects.models import OPEN_STATUSES, Pool, Project, Source, Stage, SystemSettings
from leadflow.timeline import services as timeline
from leadflow.timeline.models import TimelineKind

JOB_KIND = "import"
IMPORT_SOURCE = "Import"
# Rows normalized together, and at most per transaction: a batch's key lookups and inserts are
# set-based.
BATCH = 1000
# SQLite admits one writer at a time, so there a batch's size follows its writes' time: about
# SLICE seconds per transaction, so that a user's write waits a fraction of a second at most
# behind an import (on PostgreSQL other writers wait only for the rows they share).
SLICE = 0.05
MIN_BATCH = 50
# Files above this size are normalized by a worker process beside the writer. One keeps ahead
# of the writer (normalizing a row costs less than writing it since the e-mail and phone fast
# paths); each worker holds Django, about 85 MB, so a second would only add memory.
PARALLEL_BYTES = 2 * 1024 * 1024
WORKERS = 1
# Chunks handed to the workers ahead of the writer: bounded, so the file is never read ahead
# far (the pool's own imap would read the whole file into its task queue).
AHEAD = 4
# SQLite: a commit's automatic checkpoint would copy each batch's pages into the database file
# and sync it, though the next batches change many of the same pages again (index pages, the
# tables' ends); an import checkpoints every CHECKPOINT_BATCHES batches instead.
CHECKPOINT_BATCHES = 20
FIRST_PROBLEMS = 100
MAX_WARNINGS = 50
UPDATABLE = ("name", "email", "company", "timezone", "country", "language")
LEAD_FIELDS = ["name", "email", "email_key", "phones", "company", "timezone", "country",
               "language", "custom", "list", "updated_at"]


# --- uploads -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredUpload:
    """An upload kept under LEADFLOW_HOME/imports: its stored name, the user's file name, how
    to read it and its header."""

    name: str
    filename: str
    info: FileInfo
    columns: list[str]

    @property
    def path(self) -> Path:
        return stored_path(self.name)


def stored_path(name: str) -> Path:
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise NotFound("Upload not found.")
    return Path(settings.IMPORTS_ROOT) / name


def store_upload(source, filename: str) -> StoredUpload:
    """Keep an uploaded file (a Django upload, an open binary file or a path) and read its
    header. Raises ValidationFailed (field `file`): empty, not CSV or XLSX, no header, no row."""
    root = Path(settings.IMPORTS_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    path = root / name
    if isinstance(source, str | Path):
        shutil.copyfile(source, path)
    elif hasattr(source, "chunks"):
        with open(path, "wb") as out:
            for chunk in source.chunks():
                out.write(chunk)
    else:
        with open(path, "wb") as out:
            shutil.copyfileobj(source, out)
    try:
        info = inspect_file(path)
        with RowReader(path, info) as reader:
            columns = reader.columns
            if not any(row for row in reader.rows()):
                raise ValidationFailed.one("file", "empty",
                                           "The file has no rows below its header.")
    except ValidationFailed:
        path.unlink(missing_ok=True)
        raise
    final = f"{name}.{info.file_format}"
    path.rename(root / final)
    return StoredUpload(final, os.path.basename(filename or "upload")[:255], info, columns)


def open_upload(name: str, filename: str) -> StoredUpload:
    """A stored upload again (the UI keeps its name between the upload and mapping screens)."""
    path = stored_path(name)
    if not path.exists():
        raise NotFound("The uploaded file is gone; upload it again.")
    info = inspect_file(path)
    with RowReader(path, info) as reader:
        return StoredUpload(name, filename, info, reader.columns)


def preview_rows(upload: StoredUpload, limit: int = 5) -> list[list[str]]:
    """The first non-blank rows of an upload, for the mapping screen."""
    rows = []
    with RowReader(upload.path, upload.info) as reader:
        for row in reader.rows():
            if row:
                rows.append(row)
            if len(rows) >= limit:
                break
    return rows


# --- starting ----------------------------------------------------------------------------------


def check_import_allowed(actor: Actor, project: Project, *, policy: str, list_name: str) -> None:
    """Who may import what (module docstring). Raises NotFound (not a member),
    PermissionDenied, or ValidationFailed (unknown policy, `move` without a list)."""
    project_access.require(actor, Grant.CREATE_LEAD, project.pk)
    if policy not in ImportPolicy.values:
        raise ValidationFailed.one("policy", "invalid",
                                   f"Policy must be one of {', '.join(ImportPolicy.values)}.")
    manages = project_access.has_grant(actor, project.pk, Grant.MANAGE_LEADS)
    if policy == ImportPolicy.KEEP_BOTH and not manages:
        raise PermissionDenied("Only a manager may keep both records of a duplicate.")
    if (policy == ImportPolicy.MOVE or list_name.strip()) and not manages:
        raise PermissionDenied("Only a manager may import into a list.")
    if policy == ImportPolicy.MOVE and not list_name.strip():
        raise ValidationFailed.one("list", "required", "Moving duplicates needs a list.")
    if len(list_name.strip()) > 200:
        raise ValidationFailed.one("list", "too_long", "At most 200 characters.")


def start_import(project: Project, upload: StoredUpload, *, actor: Actor,
                 mapping: dict | None = None, policy: str = ImportPolicy.SKIP,
                 list_name: str = "", dry_run: bool = False, enqueue: bool = True) -> Import:
    """Store an import job for `upload` with the suggested mapping overridden by `mapping`
    (column → field) and wake a worker (unless `enqueue` is False: the caller runs it).
    Errors: NotFound, PermissionDenied, ValidationFailed (policy, list, mapping)."""
    check_import_allowed(actor, project, policy=policy, list_name=list_name)
    fields = definitions_of(project.pk)
    suggested = suggest(upload.columns, fields)
    targets = apply_mapping(upload.columns, suggested, mapping, fields)
    if not Source.objects.filter(project=project, name=IMPORT_SOURCE).exists():
        raise Conflict("The project has no Import source.", code="no_source")
    first_open_stage(project)  # Conflict when the project has no open stage
    list_name = list_name.strip()
    lead_list = (LeadList.objects.filter(project=project, key=list_key(list_name)).first()
                 if list_name else None)
    with transaction.atomic():
        job = jobs.start_job(JOB_KIND, {"channel": actor.channel}, actor=actor,
                             project_id=project.pk, enqueue=enqueue)
        job.counts = dict.fromkeys(OUTCOMES, 0)
        job.save(update_fields=["counts"])
        return Import.objects.create(
            job=job, project=project, created_by=actor.user, filename=upload.filename,
            stored_name=upload.name, file_format=upload.info.file_format,
            encoding=upload.info.encoding, delimiter=upload.info.delimiter,
            columns=upload.columns, targets=targets, suggested=suggested, policy=policy,
            list_name=lead_list.name if lead_list else list_name, lead_list=lead_list,
            dry_run=dry_run,
        )


def rerun_import(imp: Import, *, actor: Actor, dry_run: bool = False) -> Import:
    """Run a (dry-run) import's file again with the same mapping, policy and list."""
    upload = open_upload(imp.stored_name, imp.filename)
    mapping = dict(zip(imp.columns, imp.targets, strict=False))
    return start_import(imp.project, upload, actor=actor, mapping=mapping, policy=imp.policy,
                        list_name=imp.list_name, dry_run=dry_run)


def run_import(imp: Import, *, on_progress=None) -> Import:
    """Run an import in this process (the CLI), reporting each committed batch."""
    jobs.run_job(imp.pk, on_progress=on_progress)
    return Import.objects.select_related("job", "lead_list").get(pk=imp.pk)


# --- reading -----------------------------------------------------------------------------------


def get_import_for(actor: Actor, import_id: int) -> Import:
    """The import if the actor started it, manages its project or is an admin; else NotFound."""
    imp = Import.objects.select_related("job", "project", "lead_list").filter(
        pk=import_id).first() if isinstance(import_id, int) else None
    if imp is None or not (
        actor.user is None or actor.is_admin or imp.created_by_id == actor.user.pk
        or project_access.is_manager(actor, imp.project_id)
    ):
        raise NotFound("Import not found.")
    return imp


def imports_visible_to(actor: Actor):
    """Imports the actor started, or of projects they manage (all for admins), newest first."""
    qs = Import.objects.select_related("job", "project").order_by("-created_at", "-pk")
    if actor.user is None or actor.is_admin:
        return qs
    managed = project_access.managed_by(actor, Import.objects.all()).values("pk")
    from django.db.models import Q

    return qs.filter(Q(created_by=actor.user) | Q(pk__in=managed))


def import_out(imp: Import) -> dict:
    job = imp.job
    return {
        "id": imp.pk, "job": job.pk, "project": imp.project_id, "filename": imp.filename,
        "format": imp.file_format, "encoding": imp.encoding, "delimiter": imp.delimiter,
        "policy": imp.policy, "list": imp.lead_list_id, "list_name": imp.list_name,
        "dry_run": imp.dry_run, "state": job.state,
        "progress": {"done": job.progress, "total": job.total},
        "counts": {name: job.counts.get(name, 0) for name in OUTCOMES},
        "columns": imp.columns, "mapping": imp.mapping,
        "suggested_mapping": {c: t for c, t in zip(imp.columns, imp.suggested, strict=False)
                              if t},
        "warnings": [{"message": m, "count": n} for m, n in imp.warnings.items()],
        "problems": job.errors[:20], "error": job.error or None,
        "created_at": imp.created_at, "finished_at": job.finished_at,
    }


def rejected_rows_csv(imp: Import):
    """The rejected rows as CSV lines: the file's columns plus `reason`, in file order."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line([*imp.columns, "reason"])
    width = len(imp.columns)
    rows = imp.rejections.order_by("row_number").values_list("cells", "reason")
    for cells, reason in rows.iterator(chunk_size=2000):
        cells = list(cells)[:width] + [""] * max(0, width - len(cells))
        yield line([_safe_cell(c) for c in cells] + [reason])


def _safe_cell(value: str) -> str:
    """Spreadsheets run a cell starting with = + - @ as a formula; a quote keeps it text."""
    return f"'{value}" if value[:1] in ("=", "+", "-", "@") and not _number(value) else value


def _number(value: str) -> bool:
    try:
        float(value.replace(" ", ""))
    except ValueError:
        return False
    return True


# --- running -----------------------------------------------------------------------------------


@dataclass
class _Context:
    """What every batch of one run needs, read once."""

    imp: Import
    project: Project
    actor: Actor
    plan: RowPlan
    scope: str
    settings: SystemSettings
    pool: Pool
    owner: object
    stage: Stage
    source: Source
    sources: dict
    stages: dict
    terminal: set
    list_id: int | None
    manages: bool
    claimed: dict = field(default_factory=dict)
    problems: int = 0

    def source_for(self, value: str, warnings: Counter) -> Source | None:
        if not value.strip():
            return None
        found = self.sources.get(fold_header(value))
        if found is None:
            warnings[f"Unknown source '{value.strip()[:60]}': imported with source "
                     f"{IMPORT_SOURCE}."] += 1
        return found

    def stage_for(self, value: str, warnings: Counter) -> Stage | None:
        if not value.strip():
            return None
        key = fold_header(value)
        found = self.stages.get(key)
        if found is None:
            what = "is not an open stage" if key in self.terminal else "is unknown"
            warnings[f"Lead status '{value.strip()[:60]}' {what}: imported at stage "
                     f"{self.stage.name}."] += 1
        return found


def _context(imp: Import, actor: Actor) -> _Context:
    project = imp.project
    system = SystemSettings.load()
    manages = project_access.has_grant(actor, project.pk, Grant.MANAGE_LEADS)
    if manages:
        pool, owner = Pool.objects.get(project=project, is_default=True), None
    else:
        owner = actor.user
        pool = Pool.objects.filter(project=project, members=owner).order_by(
            "-is_default", "name").first()
        if pool is None:
            raise ValidationFailed.one("pool", "not_in_pool", "You are in no pool of this project.")
    sources = {fold_header(s.name): s for s in Source.objects.filter(project=project)}
    stages, terminal = {}, set()
    for stage in Stage.objects.filter(project=project).order_by("-position", "-id"):
        keys = {fold_header(stage.name), fold_header(stage.status),
                fold_header(stage.get_status_display())}
        if stage.status in OPEN_STATUSES and stage.retired_at is None:
            stages.update(dict.fromkeys(keys, stage))
        else:
            terminal |= keys
    terminal -= set(stages)
    return _Context(
        imp=imp, project=project, actor=actor,
        plan=RowPlan(tuple(imp.targets), project.pk, project.default_region,
                     system.duplicate_scope, system.email_ignore_plus,
                     system.email_ignore_gmail_dots, tuple(definitions_of(project.pk))),
        scope=scope_for(project.pk, system), settings=system, pool=pool, owner=owner,
        stage=first_open_stage(project), source=sources[fold_header(IMPORT_SOURCE)],
        sources=sources, stages=stages, terminal=terminal,
        # A dry run into a list not created yet compares leads' lists with a list id no
        # lead has.
        list_id=imp.lead_list_id or (-1 if imp.dry_run and imp.list_name else None),
        manages=manages,
    )


class _Run:
    """An open file and its normalization pipeline, kept between the batches (job steps) of
    one run in this process. Big files are normalized by worker processes, at most AHEAD
    chunks ahead of the writer."""

    def __init__(self, imp: Import, start: int, plan: RowPlan):
        path = stored_path(imp.stored_name)
        self.reader = RowReader(path, FileInfo(imp.file_format, imp.encoding, imp.delimiter))
        self.reader.__enter__()
        self.rows = self.reader.rows(start)
        self.number = start + 2  # the header is row 1
        self.position = start
        self.plan = plan
        self.pending: deque = deque()
        self.ready: deque = deque()  # normalized rows not written yet
        self.slices = Slices(BATCH, seconds=SLICE, least=MIN_BATCH)
        self.pool = None
        self.batches = 0
        self.checkpoints = not imp.dry_run and connection.vendor == "sqlite"
        if path.stat().st_size > PARALLEL_BYTES:
            context = multiprocessing.get_context("spawn")
            self.pool = context.Pool(WORKERS, initializer=workers.setup)

    def _chunk(self) -> list[tuple[int, list[str]]]:
        chunk = []
        for cells in self.rows:
            chunk.append((self.number, cells))
            self.number += 1
            if len(chunk) >= BATCH:
                break
        return chunk

    def prepare(self) -> None:
        """Have the next batch's rows normalized (outside any transaction)."""
        while len(self.ready) < self.slices.size:
            rows = self._normalized()
            if not rows:
                return
            self.ready.extend(rows)

    def next_batch(self) -> list[tuple[int, list[str], RowResult | None]]:
        """The next batch's rows with their normalized results ([] at the end of the file)."""
        self.prepare()
        batch = [self.ready.popleft() for _ in range(min(self.slices.size, len(self.ready)))]
        self.position += len(batch)
        return batch

    def _normalized(self) -> list[tuple[int, list[str], RowResult | None]]:
        if self.pool is None:
            chunk = self._chunk()
            results = normalize_rows(chunk, self.plan)
        else:
            while len(self.pending) < AHEAD:
                chunk = self._chunk()
                if not chunk:
                    break
                self.pending.append(
                    (chunk, self.pool.apply_async(workers.normalize, (chunk, self.plan))))
            if not self.pending:
                return []
            chunk, result = self.pending.popleft()
            results = result.get()
        return [(n, cells, r) for (n, cells), r in zip(chunk, results, strict=True)]

    def written(self) -> None:
        """A batch was written: every CHECKPOINT_BATCHES, checkpoint after its commit."""
        self.batches += 1
        if self.checkpoints and self.batches % CHECKPOINT_BATCHES == 0:
            checkpoint()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()
            self.pool = None
        if self.checkpoints:
            self.checkpoints = False
            checkpoint()
        self.reader.__exit__(None, None, None)


_RUNS: dict[int, tuple[_Run, _Context]] = {}


def _close_run(job_id: int) -> None:
    run = _RUNS.pop(job_id, None)
    if run is not None:
        run[0].close()


def _is_written(job: Job) -> bool:
    """A dry run writes no rows: its batches run outside a transaction (on SQLite one would
    hold the write lock while it reads the whole file)."""
    return not Import.objects.filter(pk=job.pk, dry_run=True).exists()


def _held_run(job: Job, actor: Actor) -> tuple[_Run, _Context]:
    """This process's open run of the import, opened where the job's cursor stands. A dry run
    resumed in another process starts its in-file duplicate tracking anew from there."""
    start = job.cursor or 0
    held = _RUNS.get(job.pk)
    if held is None or held[0].position != start:
        _close_run(job.pk)
        imp = Import.objects.select_related("project", "lead_list").get(pk=job.pk)
        if job.cursor is None:
            _first_step(job, imp)
        context = _context(imp, actor)
        held = _RUNS[job.pk] = (_Run(imp, start, context.plan), context)
    return held


def _import_actor(job: Job, actor: Actor) -> Actor:
    return Actor(actor.user, job.params.get("channel", actor.channel))


def prepare_import_step(job: Job, actor: Actor) -> None:
    """Before a batch's transaction: open the run (counting the file's rows at the start)
    and normalize the batch's rows."""
    try:
        _held_run(job, _import_actor(job, actor))[0].prepare()
    except BaseException:
        _close_run(job.pk)
        raise


@jobs.register(JOB_KIND, atomic=_is_written, prepare=prepare_import_step)
def import_step(job: Job, actor: Actor):
    """One batch of an import (a job step): returns the new cursor (rows read; None when the
    file is done), the counts it adds, the rows done and the first problems."""
    try:
        return _step(job, _import_actor(job, actor))
    except BaseException:
        _close_run(job.pk)
        raise


def _step(job: Job, actor: Actor):
    run, context = _held_run(job, actor)
    batch = run.next_batch()
    if not batch:
        _close_run(job.pk)
        return None, Counter(dict.fromkeys(OUTCOMES, 0)), 0, []
    started = time.monotonic()
    added, problems = _apply_with_retries(context, batch)
    run.slices.wrote(len(batch), time.monotonic() - started)
    counts = Counter(dict.fromkeys(OUTCOMES, 0))
    counts.update(added)
    if not context.imp.dry_run:
        run.written()
    return run.position, counts, len(batch), problems


def _first_step(job: Job, imp: Import) -> None:
    """Count the rows (for progress) and create the chosen list unless this is a dry run."""
    path = stored_path(imp.stored_name)
    with RowReader(path, FileInfo(imp.file_format, imp.encoding, imp.delimiter)) as reader:
        job.total = reader.count()
    if imp.list_name and imp.lead_list_id is None and not imp.dry_run:
        key = list_key(imp.list_name)
        lead_list = LeadList.objects.filter(project=imp.project, key=key).first()
        if lead_list is None:
            try:
                with transaction.atomic():
                    lead_list = LeadList.objects.create(
                        project=imp.project, name=imp.list_name, key=key, owner=imp.created_by)
            except IntegrityError:  # created concurrently under the same name
                lead_list = LeadList.objects.get(project=imp.project, key=key)
        imp.lead_list = lead_list
        imp.save(update_fields=["lead_list"])


def _apply_with_retries(context: _Context, batch) -> tuple[Counter, list]:
    for _attempt in range(3):
        try:
            with transaction.atomic():
                return _apply(context, batch)
        except IntegrityError:
            continue  # a concurrent writer claimed one of the batch's keys: look again
    raise Conflict("The contact keys are being changed concurrently; try again.", code="busy")


def _apply(ctx: _Context, batch) -> tuple[Counter, list]:
    """Write one batch: rejected rows, created leads (ingest_batch), policy outcomes for the
    duplicates, warnings. Returns the counts and the first problems."""
    imp, policy, dry_run = ctx.imp, ctx.imp.policy, ctx.imp.dry_run
    counts, warnings = Counter(), Counter()
    rejected: list[tuple[int, list[str], str]] = []
    items, rows = [], []
    for number, cells, result in batch:
        if result is None:
            continue
        warnings.update(result.warnings)
        if result.reason:
            rejected.append((number, cells, result.reason))
            continue
        items.append(BatchItem(LeadInput(custom=result.custom or {}), result.cleaned,
                               result.keys, source=ctx.source_for(result.source, warnings),
                               stage=ctx.stage_for(result.stage, warnings),
                               words=result.words))
        rows.append((number, cells))
    now = timezone.now()
    reason = f"Imported from {imp.filename}"
    ingest_batch(
        ctx.project, items, scope=ctx.scope, pool=ctx.pool, stage=ctx.stage, source=ctx.source,
        actor=ctx.actor, reason=reason, batch_id=imp.batch_id, now=now, owner=ctx.owner,
        keep_both=policy == ImportPolicy.KEEP_BOTH, list_id=ctx.list_id if not dry_run else None,
        claimed=ctx.claimed if dry_run else None, dry_run=dry_run,
    )
    duplicates = [(item, row) for item, row in zip(items, rows, strict=True) if not item.created]
    counts["created"] += len(items) - len(duplicates)
    if policy in (ImportPolicy.UPDATE, ImportPolicy.MOVE):
        _update_duplicates(ctx, duplicates, counts, rejected, now=now, reason=reason)
    else:
        counts["skipped"] += len(duplicates)
    counts["rejected"] += len(rejected)
    if rejected:
        insert_rows(ImportRejection, [ImportRejection(import_run_id=imp.pk, row_number=n,
                                                      cells=cells, reason=why)
                                      for n, cells, why in rejected])
    problems = []
    for number, _cells, why in sorted(rejected)[: max(0, FIRST_PROBLEMS - ctx.problems)]:
        problems.append({"row": number, "reason": why})
    ctx.problems += len(problems)
    if warnings:
        merged = Counter(imp.warnings)
        for message, n in warnings.items():
            if message in merged or len(merged) < MAX_WARNINGS:
                merged[message] += n
            else:
                merged["Other warnings"] += n
        imp.warnings = dict(merged)
        Import.objects.filter(pk=imp.pk).update(warnings=imp.warnings)
    return counts, problems


def _update_duplicates(ctx: _Context, duplicates, counts: Counter, rejected: list, *, now,
                       reason: str) -> None:
    """`update` and `move`: each duplicate row's non-blank values (and, for `move`, the list)
    go onto the lead it matched, in file order; several rows of one lead change it in turn."""
    existing_ids = {item.duplicate_of.pk for item, _row in duplicates
                    if item.duplicate_of.pk is not None and not item.duplicate_of._state.adding}
    loaded = {lead.pk: lead for lead in Lead.objects.filter(pk__in=existing_ids)}
    changed: dict[int, Lead] = {}
    rekey: dict[int, Lead] = {}
    reword: dict[int, Lead] = {}
    events = []
    move_to = ctx.list_id if ctx.imp.policy == ImportPolicy.MOVE else None
    for item, (number, cells) in duplicates:
        target = item.duplicate_of
        lead = loaded.get(target.pk, target) if target.pk is not None else target
        if lead.project_id != ctx.project.pk:
            rejected.append((number, cells, f"Duplicate of lead #{lead.pk} in another project."))
            continue
        if not ctx.manages and not can(ctx.actor, lead, "change"):
            rejected.append((number, cells,
                             f"Duplicate of lead #{lead.pk}, which you may not change."))
            continue
        before, after = _changes(lead, item.cleaned, item.data.custom)
        moved = move_to is not None and lead.list_id != move_to
        if moved:
            before["list"], after["list"] = lead.list_id, move_to
            lead.list_id = move_to if move_to > 0 else None
        if not after:
            counts["skipped"] += 1
            continue
        counts["moved" if moved else "updated"] += 1
        lead.updated_at = now
        key = lead.pk if lead.pk is not None else id(lead)
        changed[key] = lead
        if "email" in after or "phones" in after:
            rekey[key] = lead
        if "name" in after or "company" in after:
            reword[key] = lead
        events.append((lead, before, after))
    if ctx.imp.dry_run or not changed:
        return
    update_rows(Lead, list(changed.values()), LEAD_FIELDS)
    _rekey(ctx, list(rekey.values()))
    if reword:
        LeadWord.objects.filter(lead_id__in=[lead.pk for lead in reword.values()]).delete()
        insert_rows(LeadWord, [LeadWord(lead=lead, word=w) for lead in reword.values()
                               for w in sorted(words_of(lead.name, lead.company))])
        # Checked again for possible duplicates under their new names (the background check
        # the import's new leads queue takes them too).
        Lead.objects.filter(pk__in=[lead.pk for lead in reword.values()]).update(
            duplicates_checked_at=None)
    timeline.record_for_leads(
        TimelineKind.LEAD_UPDATED,
        ((lead.pk, lead.project_id, lead.name, before, after) for lead, before, after in events),
        actor=ctx.actor, reason=reason, batch_id=ctx.imp.batch_id, occurred_at=now,
    )


def _changes(lead: Lead, cleaned: dict, custom: dict) -> tuple[dict, dict]:
    """Apply the row's non-blank values to `lead`; returns before/after of what changed."""
    before, after = {}, {}
    for name in UPDATABLE:
        value = cleaned.get(name)
        if value and value != getattr(lead, name):
            before[name], after[name] = getattr(lead, name), value
            setattr(lead, name, value)
            if name == "email":
                lead.email_key = value.casefold()
    new_phones = [p for p in cleaned.get("phones", []) if p not in lead.phones]
    room = MAX_PHONES - len(lead.phones)
    if new_phones and room > 0:
        before["phones"] = list(lead.phones)
        lead.phones = [*lead.phones, *new_phones[:room]]
        after["phones"] = lead.phones
    new_custom = {k: v for k, v in (custom or {}).items()
                  if v not in ("", None) and (lead.custom or {}).get(k) != v}
    if new_custom:
        before["custom"] = {k: (lead.custom or {}).get(k) for k in new_custom}
        after["custom"] = new_custom
        lead.custom = {**(lead.custom or {}), **new_custom}
    return before, after


def _rekey(ctx: _Context, leads: list[Lead]) -> None:
    """Bring the e-mail and phone keys of leads whose e-mail or phones changed up to date:
    stale keys go; new ones are canonical unless another lead holds them already."""
    if not leads:
        return
    wanted = {lead.pk: set(derive_keys(lead.email, lead.phones, ctx.settings)) for lead in leads}
    stored: dict[int, set] = {lead.pk: set() for lead in leads}
    stale = []
    for pk, lead_id, kind, value in DuplicateKey.objects.filter(
            lead_id__in=list(wanted), kind__in=[KeyKind.EMAIL, KeyKind.PHONE]
    ).values_list("pk", "lead_id", "kind", "value"):
        stored[lead_id].add((kind, value))
        if (kind, value) not in wanted[lead_id]:
            stale.append(pk)
    if stale:
        DuplicateKey.objects.filter(pk__in=stale).delete()
    missing = [(lead_id, key) for lead_id, keys in wanted.items()
               for key in sorted(keys - stored[lead_id])]
    held = find_canonical(ctx.scope, [key for _lead, key in missing])
    for lead_id, (kind, value) in missing:
        canonical = (kind, value) not in held
        if canonical:
            try:
                with transaction.atomic():
                    DuplicateKey.objects.create(scope=ctx.scope, kind=kind, value=value,
                                                lead_id=lead_id)
                held[(kind, value)] = lead_id
                continue
            except IntegrityError:
                pass  # held by another lead meanwhile: this one keeps a non-canonical copy
        DuplicateKey.objects.create(scope=ctx.scope, kind=kind, value=value, lead_id=lead_id,
                                    canonical=False)
