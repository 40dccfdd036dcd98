"""Files on items: limits, the content-type allow-list, the event, API and pages."""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from offload.core import errors
from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import api_client, key_for, make_user
from offload.work import attachments, services
from offload.work.models import Attachment, WorkItem, WorkItemEvent
from offload.work.tests.factories import make_item

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
API = "/api/v1/items/{}/attachments"


def add(item: WorkItem, name: str, data: bytes, content_type: str | None) -> Attachment:
    return attachments.attachment_add(
        actor=None, item=item, filename=name, data=data, content_type=content_type
    )


def field_messages(exc: errors.ValidationFailed) -> dict[str, str]:
    return {e.field: e.message for e in exc.errors}


# ------------------------------------------------------------------ service


def test_a_file_is_stored_with_its_digest_and_an_event():
    # given
    item = make_item()
    # when
    attachment = add(item, "invoice.pdf", PDF, "application/pdf")
    # then
    assert attachment.file.read() == PDF
    assert attachment.sha256 == hashlib.sha256(PDF).hexdigest()
    assert (attachment.size, attachment.content_type) == (len(PDF), "application/pdf")
    event = WorkItemEvent.objects.filter(item=item).order_by("-seq").first()
    assert event is not None
    assert event.type == "attachment_added"
    assert event.data["attachment"] == attachment.pk
    assert event.data["filename"] == "invoice.pdf"


@pytest.mark.parametrize(
    ("name", "data", "declared", "message"),
    [
        ("run.exe", b"MZ\x90\x00", "application/x-msdownload", "is not allowed"),
        ("page.html", b"<script>", "text/html", "is not allowed"),
        ("fake.pdf", b"MZ\x90\x00 not a pdf", "application/pdf", "does not look like"),
        ("fake.png", PDF, "image/png", "does not look like"),
        ("notes.txt", b"\x00\x01binary", "text/plain", "not UTF-8 text"),
        ("empty.pdf", b"", "application/pdf", "empty"),
    ],
)
def test_a_file_of_a_refused_type_or_content_names_the_file_field(name, data, declared, message):
    # given
    item = make_item()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        add(item, name, data, declared)
    # then
    assert message in field_messages(caught.value)["file"]
    assert not Attachment.objects.filter(item=item).exists()


def test_without_a_declared_type_the_name_decides_it():
    # given
    item = make_item()
    # when
    attachment = add(item, "scan.png", PNG, "application/octet-stream")
    # then
    assert attachment.content_type == "image/png"


def test_a_path_in_the_name_is_dropped():
    # given
    item = make_item()
    # when
    attachment = add(item, "../../etc/C:\\temp\\invoice.pdf", PDF, "application/pdf")
    # then
    assert attachment.filename == "invoice.pdf"


def test_the_per_file_limit_is_named(settings):
    # given
    settings.OFFLOAD_ATTACHMENT_MAX_BYTES = 100
    item = make_item()
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        add(item, "big.txt", b"x" * 101, "text/plain")
    # then
    assert "limit per file is 100 bytes" in field_messages(caught.value)["file"]


def test_the_per_item_limit_counts_the_files_already_there(settings):
    # given
    settings.OFFLOAD_ITEM_ATTACHMENTS_MAX_BYTES = 150
    item = make_item()
    add(item, "a.txt", b"a" * 100, "text/plain")
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        add(item, "b.txt", b"b" * 51, "text/plain")
    # then
    assert "limit per item is 150 bytes" in field_messages(caught.value)["file"]
    assert Attachment.objects.filter(item=item).count() == 1


def test_a_cancelled_item_takes_no_more_files():
    # given
    item = make_item()
    services.work_item_cancel(actor=None, item=item, reason="Duplicate")
    # when / then
    with pytest.raises(errors.Conflict):
        add(item, "late.pdf", PDF, "application/pdf")


# ------------------------------------------------------------------ API


def test_the_client_uploads_lists_and_downloads_a_file_through_the_api():
    # given
    item = make_item()
    client = api_client(key_for(item.client, "client_admin"))
    upload = SimpleUploadedFile("receipt.pdf", PDF, "application/pdf")
    # when
    created = client.post(API.format(item.pk), {"file": upload})
    listed = client.get(API.format(item.pk))
    attachment_id = created.json()["id"]
    downloaded = client.get(f"{API.format(item.pk)}/{attachment_id}/file")
    # then
    assert created.status_code == 201, created.content
    assert created.json()["filename"] == "receipt.pdf"
    assert [a["id"] for a in listed.json()["items"]] == [attachment_id]
    assert downloaded.status_code == 200
    assert b"".join(downloaded.streaming_content) == PDF  # type: ignore[attr-defined]
    assert downloaded["Content-Type"] == "application/pdf"
    assert downloaded["Content-Disposition"].startswith("attachment;")


def test_a_refused_upload_is_a_422_problem_naming_file():
    # given
    item = make_item()
    client = api_client(key_for(item.provider, "agent"))
    upload = SimpleUploadedFile("tool.sh", b"#!/bin/sh\nrm -rf /", "application/x-sh")
    # when
    response = client.post(API.format(item.pk), {"file": upload})
    # then
    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "file"


def test_another_clients_file_is_not_found_even_under_its_own_item_id():
    # given
    item = make_item()
    other = make_item()
    attachment = add(item, "invoice.pdf", PDF, "application/pdf")
    client = api_client(key_for(other.client, "client_admin"))
    # when
    direct = client.get(f"{API.format(item.pk)}/{attachment.pk}/file")
    smuggled = client.get(f"{API.format(other.pk)}/{attachment.pk}/file")
    # then
    assert direct.status_code == 404
    assert smuggled.status_code == 404


# ------------------------------------------------------------------ pages


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


def test_an_agent_uploads_a_file_on_the_item_page_and_sees_it_listed():
    # given
    item = make_item()
    browser = signed_in(item.provider, "agent")
    upload = SimpleUploadedFile("photo.png", PNG, "image/png")
    # when
    posted = browser.post(f"/items/{item.pk}/files/", {"file": upload})
    page = browser.get(f"/items/{item.pk}/")
    # then
    assert posted.status_code == 302
    assert "photo.png" in page.content.decode()
    attachment = Attachment.objects.get(item=item)
    download = browser.get(f"/items/{item.pk}/files/{attachment.pk}/")
    assert b"".join(download.streaming_content) == PNG  # type: ignore[attr-defined]


def test_a_refused_file_on_the_page_shows_the_reason_in_the_htmx_block():
    # given
    item = make_item()
    browser = signed_in(item.provider, "agent")
    upload = SimpleUploadedFile("fake.pdf", b"not a pdf at all", "application/pdf")
    # when
    response = browser.post(f"/items/{item.pk}/files/", {"file": upload}, HTTP_HX_REQUEST="true")
    # then
    assert response.status_code == 200
    assert "does not look like" in response.content.decode()
    assert not Attachment.objects.filter(item=item).exists()


def test_another_client_cannot_download_a_file_from_the_page():
    # given
    item = make_item()
    attachment = add(item, "invoice.pdf", PDF, "application/pdf")
    other = make_item()
    browser = signed_in(other.client, "client_admin")
    # when
    response = browser.get(f"/items/{item.pk}/files/{attachment.pk}/")
    # then
    assert response.status_code == 404


def test_a_viewer_sees_files_but_gets_no_upload_form():
    # given
    item = make_item()
    add(item, "invoice.pdf", PDF, "application/pdf")
    browser = signed_in(item.client, "client_viewer")
    # when
    body = browser.get(f"/items/{item.pk}/").content.decode()
    # then
    assert "invoice.pdf" in body
    assert 'name="file"' not in body
