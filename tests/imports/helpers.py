"""Building import files and running imports in tests."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

from leadflow.core.actor import Actor
from leadflow.imports import services

SYSTEM = Actor(None, "cli")


def csv_bytes(rows: list[list[str]], *, delimiter: str = ",", newline: str = "\r\n",
              encoding: str = "utf-8") -> bytes:
    import csv

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=newline)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def write_file(content: bytes, suffix: str = ".csv") -> Path:
    with tempfile.NamedTemporaryFile(delete=False, suffix=suffix) as handle:
        handle.write(content)
    return Path(handle.name)


def xlsx_bytes(rows: list[list]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(project, content: bytes, *, actor: Actor = SYSTEM, filename: str = "people.csv",
        **options):
    """Store `content` as an upload, import it in this process and return the import."""
    upload = services.store_upload(io.BytesIO(content), filename)
    imp = services.start_import(project, upload, actor=actor, enqueue=False, **options)
    return services.run_import(imp)


def counts(imp) -> dict:
    return {k: v for k, v in imp.job.counts.items() if v}
