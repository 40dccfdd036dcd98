"""CSV import: a spreadsheet of items for one process, previewed and then committed.

Parsing and mapping are plain functions of the file's bytes; checking and writing go
through intake (`work_items_validate`, `work_items_bulk_create`), so an imported row
passes exactly the checks an API row does. The rules are in docs/work-items.md.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from offload.contracts.models import Process
from offload.core import errors
from offload.tenancy.models import Organisation
from offload.tenancy.visibility import Principal
from offload.work import intake

ITEM_FIELDS = ("reference", "priority", "subject", "language", "tags")
PAYLOAD_PREFIX = "payload."
DELIMITERS = ",;"
SAMPLE_ROWS = 5
TRUE_WORDS = frozenset({"true", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "no", "n", "0"})

NOT_UTF8 = "is not UTF-8 text; save it as 'CSV UTF-8' and upload it again"
NO_HEADER = "has no header row"
BLANK_COLUMN = "column {number} of the header has no name"
REPEATED_COLUMN = "the header names column {column!r} twice"
TOO_MANY_ROWS = f"has more than {intake.MAX_BULK_ROWS} rows; split it"
NOT_JSON_OBJECT = 'must be a JSON object of column name to field, e.g. {"Ticket": "reference"}'
NO_SUCH_COLUMN = "the file has no column {column!r}"
UNKNOWN_TARGET = (
    "column {column!r}: {target!r} is not an item field (reference, priority, subject, "
    "language, tags) or payload.<name> of a property of the process's schema"
)
TARGET_TWICE = "two columns map to {target!r}"
NO_REFERENCE = "no column maps to 'reference' (name a column reference, or map one)"
UNMAPPED = "column {column!r} is not mapped to a field; it is ignored"
TOO_MANY_CELLS = "has {cells} cells; the header has {columns}"
NOT_INTEGER = "must be a whole number"
NOT_NUMBER = "must be a number"
NOT_BOOLEAN = "must be true or false (or yes/no, 1/0)"


# ------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Table:
    """A CSV file's header and data rows, each with its 1-based line number in the file."""

    columns: list[str]
    rows: list[tuple[int, list[str]]]
    delimiter: str


def _delimiter(header: str) -> str:
    try:
        return csv.Sniffer().sniff(header, delimiters=DELIMITERS).delimiter
    except csv.Error:
        return ";" if header.count(";") > header.count(",") else ","


def csv_parse(data: bytes) -> Table:
    """The table in a UTF-8 file (with or without a BOM), comma or semicolon separated;
    a file that cannot be read is a 422 naming `file`."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise errors.ValidationFailed.single("file", NOT_UTF8) from exc
    header_line = next((line for line in text.splitlines() if line.strip()), "")
    if not header_line:
        raise errors.ValidationFailed.single("file", NO_HEADER)
    delimiter = _delimiter(header_line)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    columns: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    try:
        last = 0
        for cells in reader:
            line, last = last + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if columns is None:
                columns = [c.strip() for c in cells]
                continue
            if len(rows) == intake.MAX_BULK_ROWS:
                raise errors.ValidationFailed.single("file", TOO_MANY_ROWS)
            rows.append((line, cells))
    except csv.Error as exc:
        raise errors.ValidationFailed.single("file", f"line {reader.line_num}: {exc}") from exc
    assert columns is not None  # the header line above is not blank
    for number, name in enumerate(columns, start=1):
        if not name:
            raise errors.ValidationFailed.single("file", BLANK_COLUMN.format(number=number))
        if columns.index(name) != number - 1:
            raise errors.ValidationFailed.single("file", REPEATED_COLUMN.format(column=name))
    return Table(columns, rows, delimiter)


# ------------------------------------------------------------------ mapping


def _properties(process: Process) -> Mapping[str, Any]:
    schema = process.item_schema or {}
    props = schema.get("properties") if isinstance(schema, dict) else None
    return props if isinstance(props, dict) else {}


def mapping_default(columns: Sequence[str], process: Process) -> dict[str, str]:
    """Columns named like an item field, or like a property of the process's schema."""
    props = _properties(process)
    out: dict[str, str] = {}
    for column in columns:
        key = column.strip().lower()
        if key in ITEM_FIELDS:
            out[column] = key
        elif column in props:
            out[column] = PAYLOAD_PREFIX + column
    return out


def mapping_parse(text: str | None, columns: Sequence[str], process: Process) -> dict[str, str]:
    """The explicit mapping (JSON, column -> field) or the default; a bad one is a 422
    naming `mapping`."""
    if not text or not text.strip():
        mapping = mapping_default(columns, process)
    else:
        try:
            raw = json.loads(text)
        except ValueError as exc:
            raise errors.ValidationFailed.single("mapping", NOT_JSON_OBJECT) from exc
        if not isinstance(raw, dict) or not all(isinstance(v, str) for v in raw.values()):
            raise errors.ValidationFailed.single("mapping", NOT_JSON_OBJECT)
        problems = []
        props = _properties(process)
        for column, target in raw.items():
            if column not in columns:
                problems.append(NO_SUCH_COLUMN.format(column=column))
            name = target.removeprefix(PAYLOAD_PREFIX)
            known = name in props if target.startswith(PAYLOAD_PREFIX) else target in ITEM_FIELDS
            if not known:
                problems.append(UNKNOWN_TARGET.format(column=column, target=target))
        if problems:
            raise errors.ValidationFailed([errors.FieldError("mapping", p) for p in problems])
        mapping = dict(raw)
    targets = list(mapping.values())
    twice = sorted({t for t in targets if targets.count(t) > 1})
    if twice:
        raise errors.ValidationFailed(
            [errors.FieldError("mapping", TARGET_TWICE.format(target=t)) for t in twice]
        )
    if "reference" not in targets:
        raise errors.ValidationFailed.single("mapping", NO_REFERENCE)
    return mapping


def _types(schema: Any) -> list[str]:
    kind = schema.get("type") if isinstance(schema, dict) else None
    return [kind] if isinstance(kind, str) else [k for k in kind or [] if isinstance(k, str)]


def coerce(value: str, schema: Any) -> Any:
    """A cell as the property's schema types it: integer, number, boolean, an array of
    strings split on "|"; anything else stays a string. ValueError names the reason."""
    types = _types(schema)
    if "integer" in types:
        try:
            return int(value)
        except ValueError:
            raise ValueError(NOT_INTEGER) from None
    if "number" in types:
        text = value if "." in value else value.replace(",", ".")  # Excel EU: 12,5
        try:
            number = float(text)
        except ValueError:
            raise ValueError(NOT_NUMBER) from None
        return int(number) if number.is_integer() and "." not in text else number
    if "boolean" in types:
        word = value.lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError(NOT_BOOLEAN)
    if "array" in types:
        return [v.strip() for v in value.split("|") if v.strip()]
    return value


def _tags(value: str) -> list[str]:
    separator = "|" if "|" in value else ","
    return [t.strip() for t in value.split(separator) if t.strip()]


# ------------------------------------------------------------------ rows


@dataclass
class Mapped:
    """The table's rows as intake rows; `errors` are the cells that could not be typed."""

    table: Table
    mapping: dict[str, str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)  # {index, row, field, message}

    @property
    def warnings(self) -> list[str]:
        return [UNMAPPED.format(column=c) for c in self.table.columns if c not in self.mapping]

    def line(self, index: int) -> int:
        return self.table.rows[index][0]


def rows_map(table: Table, mapping: Mapping[str, str], process: Process) -> Mapped:
    """Each data row as an intake row of `process`; an empty cell leaves its field out."""
    props = _properties(process)
    positions = [(table.columns.index(c), target) for c, target in mapping.items()]
    out = Mapped(table, dict(mapping))
    for index, (line, cells) in enumerate(table.rows):
        row: dict[str, Any] = {"process": process.slug}
        payload: dict[str, Any] = {}
        extra = [c for c in cells[len(table.columns) :] if c.strip()]
        if extra:
            message = TOO_MANY_CELLS.format(cells=len(cells), columns=len(table.columns))
            out.errors.append({"index": index, "row": line, "field": "file", "message": message})
        for position, target in positions:
            value = cells[position].strip() if position < len(cells) else ""
            if target == "reference":
                row["reference"] = value
            elif not value:
                continue
            elif target == "tags":
                row["tags"] = _tags(value)
            elif target.startswith(PAYLOAD_PREFIX):
                name = target.removeprefix(PAYLOAD_PREFIX)
                try:
                    payload[name] = coerce(value, props.get(name))
                except ValueError as exc:
                    out.errors.append(
                        {"index": index, "row": line, "field": target, "message": str(exc)}
                    )
            else:
                row[target] = value
        row["payload"] = payload
        out.rows.append(row)
    return out


# ------------------------------------------------------------------ preview and commit


def _prepare(*, process: Process, data: bytes, mapping: str | None) -> Mapped:
    table = csv_parse(data)
    return rows_map(table, mapping_parse(mapping, table.columns, process), process)


def _with_lines(mapped: Mapped, found: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**e, "row": mapped.line(e["index"])} for e in found]


def csv_preview(
    *,
    actor: Principal | None,
    client: Organisation,
    process: Process,
    data: bytes,
    mapping: str | None = None,
) -> dict[str, Any]:
    """What an import would do, without writing: columns, mapping, counts, every row's
    errors (with its line in the file) and a sample of the mapped rows."""
    mapped = _prepare(process=process, data=data, mapping=mapping)
    found = mapped.errors + _with_lines(
        mapped, intake.work_items_validate(actor=actor, client=client, rows=mapped.rows)
    )
    found.sort(key=lambda e: e["index"])
    bad = {e["index"] for e in found}
    return {
        "columns": mapped.table.columns,
        "mapping": mapped.mapping,
        "delimiter": mapped.table.delimiter,
        "rows": len(mapped.rows),
        "valid": len(mapped.rows) - len(bad),
        "errors": found,
        "warnings": mapped.warnings,
        "sample": mapped.rows[:SAMPLE_ROWS],
    }


def csv_commit(
    *,
    actor: Principal | None,
    client: Organisation,
    process: Process,
    data: bytes,
    mapping: str | None = None,
) -> intake.BulkResult:
    """Create the file's valid rows through bulk intake; every row of the answer (by
    its 0-based `index` among the data rows) carries its line in the file as `row`."""
    mapped = _prepare(process=process, data=data, mapping=mapping)
    untyped = {e["index"] for e in mapped.errors}
    sent = [i for i in range(len(mapped.rows)) if i not in untyped]
    bulk = intake.work_items_bulk_create(
        actor=actor, client=client, rows=[mapped.rows[i] for i in sent]
    )

    def lined(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for e in entries:
            index = sent[e["index"]]
            out.append({**e, "index": index, "row": mapped.line(index)})
        return out

    result = intake.BulkResult(
        accepted=lined(bulk.accepted),
        duplicates=lined(bulk.duplicates),
        errors=sorted(mapped.errors + lined(bulk.errors), key=lambda e: e["index"]),
    )
    return result
