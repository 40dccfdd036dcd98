"""Files on items: `POST/GET /items/{item_id}/attachments` and a file's download."""

from __future__ import annotations

from datetime import datetime

from django.http import FileResponse, HttpRequest
from ninja import File, Router, Schema, Status
from ninja.files import UploadedFile

from offload.core.pagination import DEFAULT_LIMIT, page
from offload.core.schemas import Page
from offload.tenancy import visibility
from offload.tenancy.api import principal_of
from offload.work import attachments
from offload.work.models import Attachment, WorkItem

router = Router(tags=["work"])


class AttachmentOut(Schema):
    id: int
    item_id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    source: str
    uploaded_by_id: int | None
    created_at: datetime


@router.post(
    "/items/{item_id}/attachments",
    response={201: AttachmentOut},
    description="422 names `file` when it is too large (per file or per item), empty, of a "
    "type not on the allow-list, or its content does not match its type; 409 on a closed "
    "or cancelled item.",
)
def attachment_add(
    request: HttpRequest, item_id: int, file: File[UploadedFile]
) -> Status[Attachment]:
    """Attach a file (multipart field `file`); the item gets an `attachment_added` event."""
    principal = principal_of(request)
    item = visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)
    attachment = attachments.attachment_add(
        actor=principal,
        item=item,
        filename=file.name or "file",
        data=attachments.upload_bytes(file),
        content_type=file.content_type,
    )
    return Status(201, attachment)


@router.get("/items/{item_id}/attachments", response=Page[AttachmentOut])
def attachment_list(
    request: HttpRequest, item_id: int, cursor: str | None = None, limit: int = DEFAULT_LIMIT
) -> dict[str, object]:
    principal = principal_of(request)
    item = visibility.get_visible(principal, WorkItem.objects.all(), pk=item_id)
    return page(Attachment.objects.filter(item=item), cursor=cursor, limit=limit)


@router.get("/items/{item_id}/attachments/{attachment_id}/file", response={200: None})
def attachment_file(request: HttpRequest, item_id: int, attachment_id: int) -> FileResponse:
    """The file itself, as a download with its stored content type."""
    attachment = visibility.get_visible(
        principal_of(request), Attachment.objects.filter(item_id=item_id), pk=attachment_id
    )
    return attachments.download(attachment)
