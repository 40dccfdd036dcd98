"""Mailboxes (offload/work/mailboxes.py, mailboxes_api.py), an item's e-mails through
the API, and the E-mails section of the item page."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from offload.core import errors
from offload.tenancy.models import AuditEvent
from offload.tenancy.tests.factories import api_client, key_for, make_principal, make_user
from offload.work import mail, mailboxes
from offload.work.models import Mailbox
from offload.work.tests.factories import make_mail, make_mailbox, make_process

pytestmark = pytest.mark.django_db

JSON = "application/json"


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type=JSON)


def patch(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.patch(url, json.dumps(body), content_type=JSON)


def fields_of(response: Any) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


# ------------------------------------------------------------------ services


def test_a_mailbox_is_created_lower_cased_audited_and_its_password_encrypted():
    # given
    process = make_process()
    admin = make_principal(process.provider, "admin")
    # when
    mailbox = mailboxes.mailbox_create(
        actor=admin,
        process=process,
        address="  Support@Acme.Example ",
        imap_host="imap.acme.example",
        imap_username="support",
        imap_password="s3cret app password",
    )
    # then
    assert mailbox.address == "support@acme.example"
    assert "s3cret" not in mailbox.imap_password_encrypted
    assert mailboxes.password_decrypt(mailbox.imap_password_encrypted) == "s3cret app password"
    assert mailbox.next_poll_at is not None
    event = AuditEvent.objects.get(action="mailbox.create")
    assert event.changes["address"] == [None, "support@acme.example"]
    assert event.changes["imap_password"] == [None, "(changed)"]
    assert "s3cret" not in json.dumps(event.changes)


def test_a_password_survives_a_secret_key_rotation_through_the_fallbacks(settings):
    # given
    token = mailboxes.password_encrypt("app password")
    # when: the key rotates and the old one is kept as a fallback
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a brand new secret key for the rotation test"
    # then
    assert mailboxes.password_decrypt(token) == "app password"
    # and without the fallback it cannot be read, and says so
    settings.SECRET_KEY_FALLBACKS = []
    with pytest.raises(errors.Conflict, match="enter it again"):
        mailboxes.password_decrypt(token)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"address": "not an address"}, "address"),
        ({"imap_host": "imap.example.org"}, "imap_username"),
        (
            {"imap_host": "imap.example.org", "imap_username": "u", "imap_folder": " "},
            "imap_folder",
        ),
    ],
)
def test_bad_mailbox_fields_are_named(overrides, field):
    # given
    fields = {"address": "help@example.org", **overrides}
    # when
    with pytest.raises(errors.ValidationFailed) as raised:
        mailboxes.mailbox_create(actor=None, process=make_process(), **fields)
    # then
    assert [e.field for e in raised.value.errors] == [field]


def test_a_taken_address_and_a_process_of_another_channel_are_refused():
    # given
    make_mailbox(address="help@example.org")
    chat = make_process(channel="chat")
    # when
    with pytest.raises(errors.ValidationFailed) as raised:
        mailboxes.mailbox_create(actor=None, process=chat, address="HELP@example.org")
    # then
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("process_id", mailboxes.NOT_EMAIL_PROCESS.format(channel="chat")),
        ("address", mailboxes.ADDRESS_TAKEN),
    ]


def test_an_update_audits_what_changed_and_clearing_the_password_is_a_marker():
    # given
    mailbox = make_mailbox(imap_host="imap.example.org", imap_username="u", imap_password="pw")
    admin = make_principal(mailbox.provider, "admin")
    # when
    mailboxes.mailbox_update(
        actor=admin,
        mailbox=mailbox,
        data={"display_name": "Help", "imap_password": "", "is_active": True},
    )
    # then
    mailbox.refresh_from_db()
    assert mailbox.imap_password_encrypted == ""
    event = AuditEvent.objects.filter(action="mailbox.update").get()
    assert event.changes == {"display_name": ["", "Help"], "imap_password": [None, "(cleared)"]}


def test_only_provider_admins_manage_mailboxes():
    # given
    mailbox = make_mailbox()
    for who in (
        make_principal(mailbox.provider, "agent"),
        make_principal(mailbox.client, "client_admin"),
    ):
        # then
        with pytest.raises(errors.PermissionDenied):
            mailboxes.mailbox_update(actor=who, mailbox=mailbox, data={"display_name": "x"})


# ------------------------------------------------------------------ API


def test_the_api_creates_a_mailbox_and_never_returns_the_password():
    # given
    process = make_process()
    admin = api_client(key_for(process.provider, "admin"))
    # when
    created = post(
        admin,
        "/api/v1/mailboxes",
        {
            "process_id": process.pk,
            "address": "help@acme.example",
            "imap_host": "imap.acme.example",
            "imap_username": "help",
            "imap_password": "very secret",
        },
    )
    # then
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["has_imap_password"] is True
    assert "imap_password" not in body
    assert "very secret" not in created.content.decode()
    listed = admin.get("/api/v1/mailboxes")
    assert [m["address"] for m in listed.json()["items"]] == ["help@acme.example"]
    assert "very secret" not in listed.content.decode()


def test_a_client_reads_its_mailboxes_but_does_not_write_them():
    # given
    mailbox = make_mailbox()
    client = api_client(key_for(mailbox.client, "client_admin"))
    # when
    read = client.get(f"/api/v1/mailboxes/{mailbox.pk}")
    created = post(
        client, "/api/v1/mailboxes", {"process_id": mailbox.process_id, "address": "x@y.example"}
    )
    changed = patch(client, f"/api/v1/mailboxes/{mailbox.pk}", {"is_active": False})
    # then
    assert read.status_code == 200
    assert (created.status_code, changed.status_code) == (403, 403)
    assert Mailbox.objects.count() == 1


def test_the_api_names_a_bad_field():
    # given
    process = make_process(channel="voice")
    admin = api_client(key_for(process.provider, "admin"))
    # when
    response = post(
        admin, "/api/v1/mailboxes", {"process_id": process.pk, "address": "a@b.example"}
    )
    # then
    assert response.status_code == 422
    assert fields_of(response) == {"process_id"}


def test_patch_edits_a_mailbox():
    # given
    mailbox = make_mailbox()
    admin = api_client(key_for(mailbox.provider, "admin"))
    # when
    response = patch(
        admin, f"/api/v1/mailboxes/{mailbox.pk}", {"auto_acknowledge": True, "is_active": False}
    )
    # then
    assert response.status_code == 200, response.content
    assert (response.json()["auto_acknowledge"], response.json()["is_active"]) == (True, False)


def test_an_items_emails_come_with_their_bodies_in_order(django_assert_max_num_queries):
    # given
    mailbox = make_mailbox(auto_acknowledge=True)
    first = mail.mail_receive(mailbox=mailbox, raw=make_mail(to=mailbox.address, text="Help!"))
    assert first is not None
    viewer = api_client(key_for(mailbox.client, "client_viewer"))
    # when
    with django_assert_max_num_queries(8):
        response = viewer.get(f"/api/v1/items/{first.item_id}/emails")
    # then
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(m["direction"], m["is_auto"]) for m in items] == [
        ("inbound", False),
        ("outbound", True),
    ]
    assert items[0]["text_body"] == "Help!"
    assert items[1]["references"] == [first.message_id]


# ------------------------------------------------------------------ the item page


def test_the_item_page_shows_the_conversation_with_html_sanitised():
    # given
    mailbox = make_mailbox()
    raw = (
        f"From: Jane <jane@example.org>\r\nTo: {mailbox.address}\r\nSubject: Help\r\n"
        "Message-ID: <page-1@example.org>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nPlain words\r\n"
        "--b\r\nContent-Type: text/html\r\n\r\n"
        '<p onclick="steal()">Rich <b>words</b></p><script>steal()</script>'
        '<img src="https://tracker.example/pixel.gif">\r\n--b--\r\n'
    ).encode()
    message = mail.mail_receive(mailbox=mailbox, raw=raw)
    assert message is not None
    browser = Client()
    browser.force_login(make_user(mailbox.provider, "agent"))
    # when
    response = browser.get(f"/items/{message.item_id}/")
    # then
    body = response.content.decode()
    assert response.status_code == 200
    assert "<h2>E-mails</h2>" in body
    assert "jane@example.org" in body
    assert "Plain words" in body
    assert "<p>Rich <b>words</b></p>" in body
    assert "steal()" not in body
    assert "tracker.example" not in body
