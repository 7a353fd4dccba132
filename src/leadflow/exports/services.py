"""Export leads chosen by a lead filter to CSV or XLSX with chosen columns (issue 6, item 6).

Only leads the actor sees are exported (`leads_visible_to` + `apply_lead_filters`, exactly as
the leads list), in id order, read in keyset chunks of CHUNK leads: memory stays flat whatever
the export's size.

Spreadsheet safety (OWASP CSV injection): every text cell starting with `=`, `+`, `-`, `@`, a
tab or a carriage return is prefixed with `'`, in CSV and XLSX alike, so no cell is ever read
as a formula. Phone numbers in E.164 (`+49…`) are text cells and get the prefix too.

Two ways to run one:
- `start_export` stores an export job (a Job row of kind `export`). Its steps run outside the
  chunk transaction: each appends one chunk to a part file under EXPORTS_ROOT and records the
  part file's committed length with the job's cursor, so a resumed job first cuts the file
  back to that length and goes on without a duplicate row. CSV is written as is; XLSX rows go
  to a JSON-lines part file that the last step turns into the workbook with openpyxl's
  write-only mode (a workbook cannot be appended to across processes).
- `write_export` (the CLI) streams the whole export into one file in a single pass.

Export files are kept EXPORT_RETENTION_DAYS (settings) after the export finished: the sweep
deletes older ones (`forget_old_exports`), and the user deletes one at once (`delete_export`).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.utils import timezone

from leadflow.core.actor import Actor
from leadflow.core.errors import Conflict, ErrorCollector, NotFound, ValidationFailed
from leadflow.crm.access import leads_visible_to
from leadflow.crm.filters import LeadFilters, apply_lead_filters, check_filters
from leadflow.jobs.models import Job
from leadflow.jobs.services import register as register_job
from leadflow.jobs.services import start_job
from leadflow.projects.access import get_project_for

KIND = "export"
FORMATS = ("csv", "xlsx")
CHUNK = 1000
MAX_COLUMNS = 100
# A worksheet holds 1,048,576 rows; a longer export goes on in another sheet.
SHEET_ROWS = 1_048_575
HEARTBEAT_ROWS = 20_000
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def _when(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value is not None else None


def _name(obj) -> str | None:
    return obj.name if obj is not None else None


@dataclass(frozen=True)
class Column:
    description: str
    value: Callable[[Any], Any]
    related: tuple[str, ...] = ()


COLUMNS: dict[str, Column] = {
    "id": Column("Lead id", lambda lead: lead.pk),
    "name": Column("Name", lambda lead: lead.name),
    "email": Column("E-mail", lambda lead: lead.email),
    "phone": Column("First phone (E.164)", lambda lead: (lead.phones or [None])[0]),
    "phones": Column("All phones, separated by '; '", lambda lead: "; ".join(lead.phones or [])),
    "company": Column("Company", lambda lead: lead.company),
    "timezone": Column("Time zone", lambda lead: lead.timezone),
    "country": Column("Country", lambda lead: lead.country),
    "language": Column("Language", lambda lead: lead.language),
    "project": Column("Project name", lambda lead: lead.project.name, ("project",)),
    "source": Column("Source name", lambda lead: lead.source.name, ("source",)),
    "bucket": Column("Bucket name", lambda lead: _name(lead.bucket), ("bucket",)),
    "bucket_label": Column("Bucket label", lambda lead: lead.bucket_label),
    "affiliate_id": Column("Affiliate ID", lambda lead: lead.affiliate_id),
    "stage": Column("Stage name", lambda lead: lead.stage.name, ("stage",)),
    "status": Column("Status", lambda lead: lead.status),
    "lost_reason": Column("Lost reason", lambda lead: lead.lost_reason),
    "owner": Column("Owner's e-mail", lambda lead: lead.owner.email if lead.owner else None,
                    ("owner",)),
    "pool": Column("Pool name", lambda lead: lead.pool.name, ("pool",)),
    "tags": Column("Tags, separated by '; '", lambda lead: "; ".join(_tag_names(lead))),
    "list": Column("Home list name", lambda lead: _name(lead.list), ("list",)),
    "client": Column("Client id", lambda lead: lead.client_id),
    "next_call_at": Column("Next call (UTC)", lambda lead: _when(lead.next_call_at)),
    "last_activity_at": Column("Last activity (UTC)", lambda lead: _when(lead.last_activity_at)),
    "retired": Column("Retired (true/false)", lambda lead: lead.retired_at is not None),
    **{key: Column(f"UTM {key[4:]}", lambda lead, key=key: (lead.utm or {}).get(key))
       for key in UTM_KEYS},
    "created_at": Column("Created (UTC)", lambda lead: _when(lead.created_at)),
    "updated_at": Column("Last changed (UTC)", lambda lead: _when(lead.updated_at)),
}
DEFAULT_COLUMNS = ["id", "name", "email", "phone", "company", "stage", "status", "owner",
                   "source", "tags", "list", "created_at"]
CUSTOM_PREFIX = "custom."


def _tag_names(lead) -> list[str]:
    from leadflow.tags.selectors import tag_names

    return tag_names(lead)


def _custom(name: str) -> Callable[[Any], Any]:
    def value(lead):
        found = (lead.custom or {}).get(name)
        if isinstance(found, list | dict):
            return json.dumps(found, ensure_ascii=False)
        return found

    return value


def check_columns(columns: Iterable[str] | None) -> list[str]:
    """The chosen columns (DEFAULT_COLUMNS when none): names of COLUMNS or `custom.<name>`,
    each at most once. Errors: ValidationFailed (`columns`: `invalid`, `too_many`)."""
    if columns is None:
        return list(DEFAULT_COLUMNS)
    if isinstance(columns, str) or not all(isinstance(c, str) for c in columns):
        raise ValidationFailed.one("columns", "invalid", "Give a list of column names.")
    chosen = list(dict.fromkeys(c.strip() for c in columns if c.strip()))
    errors = ErrorCollector()
    if not chosen:
        errors.add("columns", "required", "Choose at least one column.")
    elif len(chosen) > MAX_COLUMNS:
        errors.add("columns", "too_many", f"At most {MAX_COLUMNS} columns.")
    unknown = [c for c in chosen if c not in COLUMNS and not (
        c.startswith(CUSTOM_PREFIX) and 0 < len(c) - len(CUSTOM_PREFIX) <= 100
        and "\x00" not in c)]
    if unknown:
        errors.add("columns", "invalid", f"Unknown columns: {', '.join(unknown[:10])}. Choose "
                   f"from {', '.join(COLUMNS)} or custom.<field name>.")
    errors.raise_if_any()
    return chosen


def check_format(fmt: str) -> str:
    if fmt not in FORMATS:
        raise ValidationFailed.one("format", "invalid", "Format must be csv or xlsx.")
    return fmt


def neutralize(value: str) -> str:
    """A text cell a spreadsheet cannot take for a formula: `'` before a leading =, +, -, @,
    tab or carriage return (OWASP CSV injection)."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


# --- reading the rows ---------------------------------------------------------------------


def _getters(columns: list[str]) -> list[Callable[[Any], Any]]:
    return [COLUMNS[c].value if c in COLUMNS else _custom(c[len(CUSTOM_PREFIX):])
            for c in columns]


def _leads(actor: Actor, filters: LeadFilters, columns: list[str]):
    from leadflow.tags.selectors import with_tags

    qs = apply_lead_filters(leads_visible_to(actor), filters)
    related = sorted({r for c in columns if c in COLUMNS for r in COLUMNS[c].related})
    if related:
        qs = qs.select_related(*related)
    if "tags" in columns:
        qs = with_tags(qs)
    return qs.order_by("pk")


def lead_rows(actor: Actor, filters: LeadFilters, columns: list[str], *,
              after: int | None = None, limit: int | None = None
              ) -> Iterator[tuple[int, list[Any]]]:
    """(lead id, cell values) of the leads to export after lead id `after`, in id order, read
    in keyset chunks of CHUNK; at most `limit` rows."""
    qs = _leads(actor, filters, columns)
    getters = _getters(columns)
    given = 0
    while limit is None or given < limit:
        size = CHUNK if limit is None else min(CHUNK, limit - given)
        page = qs.filter(pk__gt=after) if after is not None else qs
        chunk = list(page[:size])
        for lead in chunk:
            yield lead.pk, [get(lead) for get in getters]
        given += len(chunk)
        if len(chunk) < size:
            return
        after = chunk[-1].pk


# --- writing the cells --------------------------------------------------------------------


def csv_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return neutralize(value)
    return value


def xlsx_cell(value: Any) -> Any:
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if isinstance(value, str):
        # Control characters are not allowed in a worksheet's XML; tab and CR are neutralized.
        return neutralize(ILLEGAL_CHARACTERS_RE.sub("", value))
    return value


def csv_chunk(rows: Iterable[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()


def write_xlsx(path: Path, header: list[str], rows: Iterable[list[Any]], *,
               every: Callable[[int], None] | None = None) -> int:
    """Write a workbook in openpyxl's write-only mode (rows go straight to a temporary file,
    never all in memory). `every(n)` is called every HEARTBEAT_ROWS rows."""
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet, in_sheet, written, sheets = None, SHEET_ROWS, 0, 0
    for row in rows:
        if in_sheet >= SHEET_ROWS:
            sheets += 1
            sheet = workbook.create_sheet("Leads" if sheets == 1 else f"Leads {sheets}")
            sheet.append(header)
            in_sheet = 0
        sheet.append([xlsx_cell(v) for v in row])
        in_sheet += 1
        written += 1
        if every is not None and written % HEARTBEAT_ROWS == 0:
            every(written)
    if sheet is None:
        workbook.create_sheet("Leads").append(header)
    workbook.save(path)
    return written


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")


def write_export(filters: LeadFilters, path: str | os.PathLike, *, actor: Actor,
                 fmt: str = "csv", columns: Iterable[str] | None = None) -> int:
    """Export in one pass into `path` (the CLI): written to a temporary file beside it and
    moved into place when complete, so a failed export leaves no half file. Returns the number
    of leads. Errors: ValidationFailed (filters, format, columns), OSError."""
    check_filters(filters)
    fmt = check_format(fmt)
    columns = check_columns(columns)
    target = Path(path)
    temporary = _temporary(target)
    rows = (row for _pk, row in lead_rows(actor, filters, columns))
    try:
        if fmt == "xlsx":
            count = write_xlsx(temporary, columns, rows)
        else:
            count = 0
            with open(temporary, "w", encoding="utf-8-sig", newline="") as out:
                out.write(csv_chunk([columns]))
                for chunk in _batches(rows, CHUNK):
                    out.write(csv_chunk(chunk))
                    count += len(chunk)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def _batches(rows: Iterable, size: int) -> Iterator[list]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# --- the export job -------------------------------------------------------------------------


def exports_root() -> Path:
    return Path(settings.EXPORTS_ROOT)


def file_path(job: Job) -> Path:
    """Where a finished export's file is."""
    return exports_root() / f"{job.pk}.{job.params['format']}"


def _part_path(job: Job) -> Path:
    ext = "csv" if job.params["format"] == "csv" else "jsonl"
    return exports_root() / f"{job.pk}.{ext}.part"


def filters_to_params(filters: LeadFilters) -> dict:
    return {k: (v.isoformat() if isinstance(v, datetime) else v)
            for k, v in dataclasses.asdict(filters).items() if v is not None}


def filters_from_params(values: dict) -> LeadFilters:
    fields = {f.name: f for f in dataclasses.fields(LeadFilters)}
    parsed = {}
    for key, value in values.items():
        if key in ("created_after", "created_before", "next_call_before") and value:
            value = datetime.fromisoformat(value)
        if key in fields:
            parsed[key] = value
    return LeadFilters(**parsed)


def start_export(filters: LeadFilters, *, actor: Actor, fmt: str = "csv",
                 columns: Iterable[str] | None = None) -> Job:
    """Store an export job for the leads `filters` picks among those the actor sees; a worker
    writes the file (see the module docstring). Any user may export what they see; a
    `project` filter must name one of theirs.
    Errors: NotFound (the project filter names a missing or invisible project),
    ValidationFailed (filters, `format`, `columns`)."""
    if filters.project is not None:
        get_project_for(actor, filters.project)
    check_filters(filters)
    fmt = check_format(fmt)
    columns = check_columns(columns)
    params = {"format": fmt, "columns": columns, "filter": filters_to_params(filters)}
    return start_job(KIND, params, actor=actor, project_id=filters.project)


@register_job(KIND, atomic=False)
def _export_step(job: Job, actor: Actor):
    """One chunk of an export job: cut the part file back to what the job committed, append
    the next CHUNK leads, and on the last chunk turn the part file into the export file."""
    fmt, columns = job.params["format"], job.params["columns"]
    filters = filters_from_params(job.params["filter"])
    part, final = _part_path(job), file_path(job)
    committed = job.counts.get("bytes", 0)
    exports_root().mkdir(parents=True, exist_ok=True)
    if committed and not part.exists():
        if final.exists():  # finished before the job row said so
            return None, {}, 0, []
        raise RuntimeError("The export's part file is gone; start the export again.")
    rows = list(lead_rows(actor, filters, columns, after=job.cursor, limit=CHUNK))
    with open(part, "r+b" if part.exists() else "w+b") as out:
        out.truncate(committed)
        out.seek(committed)
        if committed == 0:
            out.write(("\ufeff" + csv_chunk([columns])).encode() if fmt == "csv" else b"")
        if fmt == "csv":
            out.write(csv_chunk(row for _pk, row in rows).encode())
        else:
            out.write("".join(json.dumps(row, ensure_ascii=False) + "\n"
                              for _pk, row in rows).encode())
        written = out.tell() - committed
    counts = {"rows": len(rows), "bytes": written}
    if len(rows) == CHUNK:
        return rows[-1][0], counts, len(rows), []
    if fmt == "csv":
        os.replace(part, final)
    else:
        _finish_xlsx(job, part, final, columns)
    return None, counts, len(rows), []


def _finish_xlsx(job: Job, part: Path, final: Path, columns: list[str]) -> None:
    def rows():
        with open(part, encoding="utf-8") as lines:
            for line in lines:
                yield json.loads(line)

    def beat(_n: int) -> None:
        Job.objects.filter(pk=job.pk).update(heartbeat_at=timezone.now())

    temporary = _temporary(final)
    try:
        write_xlsx(temporary, columns, rows(), every=beat)
        os.replace(temporary, final)
    finally:
        temporary.unlink(missing_ok=True)
    part.unlink(missing_ok=True)


def export_out(job: Job) -> dict:
    done = job.state == "done" and not job.params.get("expired")
    return {
        "id": job.pk, "job": job.pk, "state": job.state, "format": job.params.get("format"),
        "columns": job.params.get("columns", []), "filter": job.params.get("filter", {}),
        "rows": job.counts.get("rows", 0), "error": job.error or None,
        "created_at": job.created_at, "finished_at": job.finished_at,
        "download_url": f"/api/v1/exports/{job.pk}/download" if done else None,
    }


CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def open_export(job: Job):
    """The finished export's file, opened for streaming, with its download name and content
    type. Errors: Conflict (`not_ready`: still running or failed), NotFound (file removed)."""
    if job.state != "done":
        raise Conflict("The export is not ready: it is " + job.state + ".", code="not_ready")
    if job.params.get("expired"):
        raise NotFound(f"The export's file was deleted after {settings.EXPORT_RETENTION_DAYS} "
                       "days; export again.")
    fmt = job.params["format"]
    try:
        handle = open(file_path(job), "rb")  # noqa: SIM115 - the response closes it
    except FileNotFoundError:
        raise NotFound("The export's file no longer exists.")
    stamp = job.created_at.strftime("%Y%m%d-%H%M")
    return handle, f"leads-{stamp}-{job.pk}.{fmt}", CONTENT_TYPES[fmt]


# --- clean-up --------------------------------------------------------------------------------


def delete_export(job: Job, *, actor: Actor) -> None:
    """Delete an export the actor may see (see exports.access): its file, a part file left by
    a failed run, and its row. A running export is refused. Errors: Conflict (`running`)."""
    if job.state in ("queued", "running"):
        raise Conflict("The export is still running; delete it when it has finished.",
                       code="running")
    _remove_files(job)
    job.delete()


def forget_old_exports(now=None) -> int:
    """The sweep: delete the files of exports that finished more than EXPORT_RETENTION_DAYS
    ago (their rows stay, listed without a download; the download answers 404). Returns how
    many exports lost their files."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    removed = 0
    old = (Job.objects.filter(kind=KIND, finished_at__lt=cutoff)
           .exclude(params__has_key="expired").only("pk", "params").iterator())
    for job in old:
        _remove_files(job)
        Job.objects.filter(pk=job.pk).update(params={**job.params, "expired": True})
        removed += 1
    return removed


def _remove_files(job: Job) -> None:
    for path in (file_path(job), _part_path(job), _temporary(file_path(job))):
        path.unlink(missing_ok=True)
