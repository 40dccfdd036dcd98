"""CSV import: `POST /items/import`, a preview (dry run) or the commit of a file of items."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from offload.tenancy.api import principal_of
from offload.work import csv_import, intake

router = Router(tags=["work"])


class ImportErrorOut(Schema):
    index: int = Field(description="The data row's 0-based position (the header excluded)")
    row: int = Field(description="The row's line in the file; the header is line 1")
    field: str
    message: str


class ImportPreviewOut(Schema):
    columns: list[str]
    mapping: dict[str, str]
    delimiter: str
    rows: int
    valid: int
    errors: list[ImportErrorOut]
    warnings: list[str]
    sample: list[dict[str, Any]]


class ImportRowOut(Schema):
    index: int
    row: int
    id: int
    reference: str


class ImportCommitOut(Schema):
    accepted: list[ImportRowOut]
    duplicates: list[ImportRowOut]
    errors: list[ImportErrorOut]


@router.post(
    "/items/import",
    response={200: ImportPreviewOut | ImportCommitOut, 207: ImportCommitOut},
)
def work_items_import(
    request: HttpRequest,
    process: Form[str],
    file: File[UploadedFile],
    client: Form[str | None] = None,
    mapping: Form[str | None] = None,
    dry_run: Form[bool] = True,
) -> Status[Any]:
    """A CSV file of items for one process (multipart). `dry_run` (the default) answers
    a preview and writes nothing; `dry_run=false` creates the valid rows like
    `/items/bulk` (200 when no row is an error, 207 otherwise)."""
    principal = principal_of(request)
    owner = intake.client_resolve(
        actor=principal, client_slug=client, process_slugs=[process], field="process"
    )
    found = intake.process_resolve(actor=principal, client=owner, slug=process)
    data = file.read()
    if dry_run:
        preview = csv_import.csv_preview(
            actor=principal, client=owner, process=found, data=data, mapping=mapping
        )
        return Status(200, preview)
    result = csv_import.csv_commit(
        actor=principal, client=owner, process=found, data=data, mapping=mapping
    )
    return Status(200 if result.complete else 207, result)
