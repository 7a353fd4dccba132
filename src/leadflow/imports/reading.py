"""Reading uploaded files row by row, never whole: CSV in any of the encodings spreadsheets and
CRMs write (UTF-8 with or without BOM, UTF-16 with BOM, cp1252 from Windows), comma, semicolon
or tab separated, any line ending, quoted fields with embedded newlines; and XLSX (first sheet,
openpyxl in read-only mode)."""

from __future__ import annotations

import codecs
import csv
import datetime
import decimal
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from leadflow.core.errors import ValidationFailed

SAMPLE = 64 * 1024
DELIMITERS = ",;\t|"
# A CSV cell holds at most this much; real exports stay far below, a runaway quote does not.
csv.field_size_limit(1 << 20)


@dataclass(frozen=True)
class FileInfo:
    """What reading a file needs: its format, and for CSV its encoding and delimiter."""

    file_format: str  # "csv" or "xlsx"
    encoding: str = ""
    delimiter: str = ""


def _bad(code: str, message: str) -> ValidationFailed:
    return ValidationFailed.one("file", code, message)


def detect_encoding(path: Path) -> str:
    """By byte-order mark; else UTF-16 without one (every other byte zero); else UTF-8 if the
    whole file decodes strictly (checked in chunks); else cp1252, what Windows spreadsheets
    write (not Latin-1: € and curly quotes differ)."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        pairs = head[: len(head) // 2 * 2]
        if pairs and pairs[1::2].count(0) > len(pairs) * 0.4:
            return "utf-16-le"
        if pairs and pairs[0::2].count(0) > len(pairs) * 0.4:
            return "utf-16-be"
        decoder = codecs.getincrementaldecoder("utf-8")("strict")
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                chunk = handle.read(1 << 20)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252"
    return "utf-8"


def detect_delimiter(sample: str) -> str:
    """The separator of the header line: the sniffer's answer when it splits the header into
    several columns, else the candidate occurring most often in the header (comma when none)."""
    lines = sample.splitlines()
    header = lines[0] if lines else ""
    try:
        sniffed = csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = ""
    if sniffed and header.count(sniffed) > 0:
        counts = {d: header.count(d) for d in DELIMITERS}
        if counts[sniffed] >= max(counts.values()) or sniffed in ";\t":
            return sniffed
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def inspect_file(path: Path) -> FileInfo:
    """Format, encoding and delimiter of a stored upload. Raises ValidationFailed (field `file`)
    when it is empty or neither CSV nor XLSX."""
    with open(path, "rb") as handle:
        head = handle.read(SAMPLE)
    if not head.strip():
        raise _bad("empty", "The file is empty.")
    if head.startswith(b"PK\x03\x04"):
        return FileInfo("xlsx")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise _bad("unsupported", "Old Excel files (.xls) are not supported: save as XLSX or CSV.")
    encoding = detect_encoding(path)
    if not encoding.startswith("utf-16") and b"\x00" in head:
        raise _bad("unsupported", "The file is neither CSV nor XLSX.")
    with open(path, encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(SAMPLE)
    cut = max(sample.rfind("\n"), sample.rfind("\r"))
    if 0 < cut < len(sample) - 1:
        sample = sample[:cut]
    return FileInfo("csv", encoding, detect_delimiter(sample))


def _cell(value) -> str:
    """A spreadsheet cell as text: whole numbers without '.0' (phone numbers stored as numbers),
    dates in ISO form."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, decimal.Decimal):
        return format(value.normalize(), "f")
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


class RowReader:
    """The rows of a file as lists of strings: `columns` (the header) and `rows(start)`, the
    records below it from the `start`-th on. Use as a context manager; the file stays open
    between rows and is read as it goes."""

    def __init__(self, path: Path, info: FileInfo):
        self.path, self.info = Path(path), info
        self._handle = self._book = None
        self._iter: Iterator[list[str]] | None = None
        self.columns: list[str] = []

    def __enter__(self) -> RowReader:
        if self.info.file_format == "xlsx":
            import openpyxl

            try:
                self._book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
            except Exception as exc:  # noqa: BLE001 - any unreadable archive is a bad upload
                raise _bad("unsupported", f"The XLSX file cannot be read: {exc}")
            sheet = self._book.worksheets[0]
            self._iter = ([_cell(v) for v in row] for row in sheet.iter_rows(values_only=True))
        else:
            self._handle = open(self.path, encoding=self.info.encoding,  # noqa: SIM115
                                errors="replace", newline="")
            self._iter = csv.reader(self._handle, delimiter=self.info.delimiter)
        try:
            header = next(self._iter)
        except StopIteration:
            header = []
        except csv.Error as exc:
            raise _bad("invalid", f"The CSV file cannot be read: {exc}")
        while header and not header[-1].strip():
            header.pop()  # trailing empty columns some spreadsheets add
        if not header:
            raise _bad("empty", "The file has no header row.")
        self.columns = [c.strip() or f"Column {i + 1}" for i, c in enumerate(header)]
        return self

    def __exit__(self, *exc) -> None:
        if self._handle is not None:
            self._handle.close()
        if self._book is not None:
            self._book.close()

    def rows(self, start: int = 0) -> Iterator[list[str]]:
        """Data records (after the header) from index `start`; blank records are yielded as
        empty lists, so that positions stay those of the file."""
        width = len(self.columns)
        for row in itertools.islice(self._iter, start, None):
            if not any(cell.strip() for cell in row):
                yield []
                continue
            if len(row) < width:
                row = row + [""] * (width - len(row))
            yield row[:width] if len(row) > width and not any(
                c.strip() for c in row[width:]) else row

    def count(self) -> int:
        """How many records follow the header (consumes the reader)."""
        return sum(1 for _ in self._iter)
