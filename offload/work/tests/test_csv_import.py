"""CSV import: parsing, mapping, preview and commit through the API, and the page."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from offload.contracts.models import Process
from offload.tenancy.models import Organisation
from offload.tenancy.tests.factories import api_client, key_for, make_user
from offload.work import csv_import
from offload.work.models import WorkItem
from offload.work.tests.factories import make_process

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/items/import"
PAGE = "/items/import/"
SCHEMA = {
    "type": "object",
    "required": ["account"],
    "properties": {
        "account": {"type": "string", "pattern": "^AC-[0-9]{4}$"},
        "amount": {"type": "number"},
        "seats": {"type": "integer"},
        "vip": {"type": "boolean"},
        "products": {"type": "array", "items": {"type": "string"}},
    },
}
ROWS = [
    ["reference", "subject", "priority", "tags", "account", "amount", "seats", "vip", "products"],
    ["T-1", "Refund", "P2", "billing|vip", "AC-0001", "12.5", "3", "yes", "router|modem"],
    ["T-2", "Café order", "", "", "AC-0002", "7", "1", "no", ""],
]


def csv_bytes(rows: list[list[str]], delimiter: str = ",", bom: bool = False) -> bytes:
    text = "\r\n".join(delimiter.join(cells) for cells in rows) + "\r\n"
    return ("\ufeff" if bom else "").encode() + text.encode()


def schema_process() -> Process:
    return make_process(item_schema=SCHEMA)


def upload(http: Client, process: Process, data: bytes, **fields: Any) -> Any:
    body = {"process": process.slug, "file": SimpleUploadedFile("items.csv", data), **fields}
    return http.post(IMPORT, body)


def client_admin(process: Process) -> Client:
    return api_client(key_for(process.client, "client_admin"))


def items_of(process: Process) -> list[tuple[Any, ...]]:
    return list(
        WorkItem.objects.filter(process=process)
        .order_by("reference")
        .values_list("reference", "subject", "priority", "tags", "payload")
    )


EXPECTED = [
    (
        "T-1",
        "Refund",
        "P2",
        ["billing", "vip"],
        {
            "account": "AC-0001",
            "amount": 12.5,
            "seats": 3,
            "vip": True,
            "products": ["router", "modem"],
        },
    ),
    (
        "T-2",
        "Café order",
        "P3",
        [],
        {"account": "AC-0002", "amount": 7, "seats": 1, "vip": False},
    ),
]


# ------------------------------------------------------------------ parsing


@pytest.mark.parametrize(
    ("delimiter", "bom"), [(",", False), (",", True), (";", False), (";", True)]
)
def test_bom_and_delimiter_variants_give_the_same_items(delimiter: str, bom: bool):
    # given
    process = schema_process()
    data = csv_bytes(ROWS, delimiter, bom)
    # when
    response = upload(client_admin(process), process, data, dry_run="false")
    # then
    assert response.status_code == 200, response.content
    assert [(a["index"], a["row"], a["reference"]) for a in response.json()["accepted"]] == [
        (0, 2, "T-1"),
        (1, 3, "T-2"),
    ]
    assert items_of(process) == EXPECTED


def test_csv_parse_keeps_file_line_numbers_across_blank_and_multiline_rows():
    # given
    data = b'reference;subject\n\nA-1;"two\nlines"\nA-2;x\n'
    # when
    table = csv_import.csv_parse(data)
    # then
    assert table.delimiter == ";"
    assert table.columns == ["reference", "subject"]
    assert table.rows == [(3, ["A-1", "two\nlines"]), (5, ["A-2", "x"])]


def test_a_file_that_is_not_utf8_is_a_422_naming_the_file():
    # given
    process = schema_process()
    data = "reference,subject\nT-1,Caf\xe9\n".encode("latin-1")
    # when
    response = upload(client_admin(process), process, data)
    # then
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "file", "message": csv_import.NOT_UTF8}]


# ------------------------------------------------------------------ preview


def test_the_preview_reports_a_bad_row_by_its_line_and_field_and_writes_nothing():
    # given
    process = schema_process()
    rows = [*ROWS, ["T-3", "Bad", "P9", "", "AC-0003", "ten", "1", "no", ""], ["extra"]]
    data = csv_bytes([[*rows[0], "notes"], *rows[1:]])
    # when
    response = upload(client_admin(process), process, data)
    # then
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["rows"], body["valid"], body["delimiter"]) == (4, 2, ",")
    assert [(e["index"], e["row"], e["field"]) for e in body["errors"]] == [
        (2, 4, "payload.amount"),
        (2, 4, "priority"),
        (3, 5, "payload"),
    ]
    assert body["errors"][0]["message"] == csv_import.NOT_NUMBER
    assert body["warnings"] == [csv_import.UNMAPPED.format(column="notes")]
    assert body["mapping"]["account"] == "payload.account"
    assert body["sample"][0] == {
        "process": process.slug,
        "reference": "T-1",
        "subject": "Refund",
        "priority": "P2",
        "tags": ["billing", "vip"],
        "payload": EXPECTED[0][4],
    }
    assert WorkItem.objects.count() == 0


def test_commit_writes_exactly_the_valid_rows_and_answers_207():
    # given
    process = schema_process()
    rows = [*ROWS, ["T-3", "Bad", "P1", "", "AC-0003", "ten", "1", "no", ""]]
    rows.append(["T-4", "Bad account", "P1", "", "AC-4", "1", "1", "no", ""])
    # when
    response = upload(client_admin(process), process, csv_bytes(rows), dry_run="false")
    # then
    assert response.status_code == 207, response.content
    body = response.json()
    assert [a["reference"] for a in body["accepted"]] == ["T-1", "T-2"]
    assert [(e["index"], e["row"], e["field"]) for e in body["errors"]] == [
        (2, 4, "payload.amount"),
        (3, 5, "payload.account"),
    ]
    assert items_of(process) == EXPECTED


# ------------------------------------------------------------------ mapping


def test_an_explicit_mapping_maps_columns_to_fields_and_payload():
    # given
    process = schema_process()
    data = csv_bytes([["Ticket", "Title", "Konto"], ["X-1", "Hello", "AC-0009"]], ";")
    mapping = '{"Ticket": "reference", "Title": "subject", "Konto": "payload.account"}'
    # when
    response = upload(client_admin(process), process, data, mapping=mapping, dry_run="false")
    # then
    assert response.status_code == 200, response.content
    item = WorkItem.objects.get()
    assert (item.reference, item.subject, item.payload) == ("X-1", "Hello", {"account": "AC-0009"})


def test_an_unknown_mapping_target_is_a_422_naming_mapping():
    # given
    process = schema_process()
    data = csv_bytes([["Ticket", "Title"], ["X-1", "Hello"]])
    # when
    response = upload(
        client_admin(process),
        process,
        data,
        mapping='{"Ticket": "reference", "Title": "payload.nope"}',
    )
    # then
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "mapping",
            "message": csv_import.UNKNOWN_TARGET.format(column="Title", target="payload.nope"),
        }
    ]


def test_no_reference_column_is_a_422_naming_mapping():
    # given
    process = schema_process()
    # when
    response = upload(client_admin(process), process, csv_bytes([["Title"], ["Hello"]]))
    # then
    assert response.status_code == 422
    assert response.json()["errors"] == [{"field": "mapping", "message": csv_import.NO_REFERENCE}]


# ------------------------------------------------------------------ the page


def signed_in(org: Organisation, *roles: str) -> Client:
    client = Client()
    client.force_login(make_user(org, *roles))
    return client


def test_the_page_previews_with_htmx_and_then_commits():
    # given
    process = schema_process()
    client = signed_in(process.client, "client_admin")
    form = client.get(PAGE)
    assert form.status_code == 200
    assert process.name in form.content.decode()
    data = csv_bytes(ROWS, ";", bom=True)
    # when
    preview = client.post(
        PAGE,
        {"process": process.pk, "file": SimpleUploadedFile("items.csv", data)},
        headers={"HX-Request": "true"},
    )
    # then: the partial only, with the counts and a commit form carrying the file
    assert preview.status_code == 200
    html = preview.content.decode()
    assert "<html" not in html
    assert "<strong>2</strong> of 2 rows are valid" in html
    assert 'data-testid="import-commit"' in html
    assert WorkItem.objects.count() == 0
    content = preview.context["content"]
    # when
    committed = client.post(
        PAGE,
        {"process": process.pk, "mapping": "", "content": content, "commit": "1"},
        headers={"HX-Request": "true"},
    )
    # then
    assert committed.status_code == 200
    assert "2 created, 0 already known, 0 errors" in committed.content.decode()
    assert items_of(process) == EXPECTED


def test_a_client_viewer_gets_403_on_the_page():
    # given
    process = schema_process()
    client = signed_in(process.client, "client_viewer")
    # when
    response = client.get(PAGE)
    # then
    assert response.status_code == 403


def test_another_clients_process_on_the_page_is_a_404():
    # given
    process, other = schema_process(), schema_process()
    client = signed_in(process.client, "client_admin")
    data = csv_bytes(ROWS)
    # when
    response = client.post(
        PAGE, {"process": other.pk, "file": SimpleUploadedFile("items.csv", data)}
    )
    # then
    assert response.status_code == 404
    assert WorkItem.objects.count() == 0


def test_a_provider_imports_for_its_client_naming_it():
    # given
    process = schema_process()
    client = api_client(key_for(process.provider, "admin"))
    # when
    response = upload(client, process, csv_bytes(ROWS), client=process.client.slug, dry_run="false")
    # then
    assert response.status_code == 200, response.content
    assert items_of(process) == EXPECTED
