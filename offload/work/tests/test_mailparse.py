"""offload/work/mailparse.py: real-looking messages, parsed without a database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from offload.work import mailparse


def crlf(text: str) -> bytes:
    return text.lstrip("\n").replace("\n", "\r\n").encode()


PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"

GMAIL_REPLY = crlf(
    """
MIME-Version: 1.0
Date: Tue, 3 Mar 2026 10:15:02 +0100
References: <first@mail.example.com> <c0ffee@acme.offload.localhost>
In-Reply-To: <c0ffee@acme.offload.localhost>
Message-ID: <CAF=abc123+XyZ@mail.gmail.com>
Subject: =?UTF-8?Q?Re=3A_Factura_demasiado_alta_=E2=80=94_cuenta?= [#42]
From: "Doe, Jane" <Jane.Doe@Gmail.com>
To: Acme Support <support@acme.offload.localhost>
Cc: bob@example.org, "Carol" <carol@example.org>
Content-Type: multipart/alternative; boundary="000000000000b1a2c3"

--000000000000b1a2c3
Content-Type: text/plain; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

Hola, the account number is AC-00000042.

Gracias,
Jane

On Mon, Mar 2, 2026 at 9:00 AM Acme Support <support@acme.offload.localhost>
wrote:

> Could you send us your account number?
>

--000000000000b1a2c3
Content-Type: text/html; charset="UTF-8"
Content-Transfer-Encoding: quoted-printable

<div dir=3D"ltr">Hola, the account number is AC-00000042.<br><br>Gracias,<br>Ja=
ne</div>

--000000000000b1a2c3--
"""
)

OUTLOOK_WITH_PDF = crlf(
    f"""
From: Max Mustermann <max.mustermann@contoso.com>
To: "support@acme.offload.localhost" <support@acme.offload.localhost>
Subject: RE: Invoice 2026-02 [#42]
Thread-Topic: Invoice 2026-02
Thread-Index: AQHaZ0m8v3N2b6vX0kO0c2Ydq+ZQ0Q==
Date: Wed, 4 Mar 2026 08:01:12 +0000
Message-ID: <AM6PR0402MB3399A1B2C3D4E5F6@AM6PR0402MB3399.eurprd04.prod.outlook.com>
References: <c0ffee@acme.offload.localhost>
In-Reply-To: <c0ffee@acme.offload.localhost>
Accept-Language: de-DE, en-US
X-MS-Has-Attach: yes
X-MS-Exchange-Organization-SCL: -1
Content-Type: multipart/mixed;
\tboundary="_004_AM6PR0402MB3399_"
MIME-Version: 1.0

--_004_AM6PR0402MB3399_
Content-Type: multipart/alternative;
\tboundary="_000_AM6PR0402MB3399_"

--_000_AM6PR0402MB3399_
Content-Type: text/plain; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

Hallo,

anbei die Rechnung. Sch=F6ne Gr=FC=DFe
Max

From: Acme Support <support@acme.offload.localhost>
Sent: Tuesday, March 3, 2026 5:00 PM
To: Max Mustermann <max.mustermann@contoso.com>
Subject: Invoice 2026-02 [#42]

Please send the invoice.

--_000_AM6PR0402MB3399_
Content-Type: text/html; charset="iso-8859-1"
Content-Transfer-Encoding: quoted-printable

<html><body><p>Hallo,</p><p>anbei die Rechnung.</p></body></html>

--_000_AM6PR0402MB3399_--

--_004_AM6PR0402MB3399_
Content-Type: application/pdf; name="Rechnung =?iso-8859-1?Q?M=E4rz?=.pdf"
Content-Description: Rechnung.pdf
Content-Disposition: attachment; filename*=iso-8859-1''Rechnung%20M%E4rz.pdf; size=57
Content-Transfer-Encoding: base64

{base64.b64encode(PDF).decode()}

--_004_AM6PR0402MB3399_--
"""
)

EXCHANGE_OUT_OF_OFFICE = crlf(
    """
From: Max Mustermann <max.mustermann@contoso.com>
To: Acme Support <support@acme.offload.localhost>
Subject: Automatic reply: Re: Invoice 2026-02 [#42]
Date: Thu, 5 Mar 2026 07:00:00 +0000
Message-ID: <oof-1@contoso.com>
In-Reply-To: <d00d@acme.offload.localhost>
References: <c0ffee@acme.offload.localhost> <d00d@acme.offload.localhost>
Auto-Submitted: auto-replied
X-Auto-Response-Suppress: All
X-MS-Exchange-Inbox-Rules-Loop: max.mustermann@contoso.com
Content-Type: text/plain; charset="us-ascii"
MIME-Version: 1.0

I am out of the office until March 16 with no access to e-mail.
"""
)

GMAIL_VACATION = crlf(
    """
Auto-Submitted: auto-replied
Precedence: bulk
Message-ID: <vacation-7@mail.gmail.com>
Date: Thu, 5 Mar 2026 09:00:00 +0100
In-Reply-To: <d00d@acme.offload.localhost>
References: <d00d@acme.offload.localhost>
Subject: Re: Your request [#42]
From: Jane Doe <jane.doe@gmail.com>
To: support@acme.offload.localhost
Content-Type: text/plain; charset="UTF-8"

On holiday, back on Monday.
"""
)

DSN_BOUNCE = crlf(
    """
Return-Path: <>
From: MAILER-DAEMON@mx.acme.example (Mail Delivery System)
To: support@acme.offload.localhost
Subject: Undelivered Mail Returned to Sender
Date: Thu, 5 Mar 2026 10:00:00 +0000 (UTC)
Message-Id: <20260305100000.7F1A2@mx.acme.example>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="7F1A2.1741168800/mx.acme.example"

--7F1A2.1741168800/mx.acme.example
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

This is the mail system at host mx.acme.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

<nobody@gone.example>: host mx.gone.example said: 550 5.1.1 user unknown

--7F1A2.1741168800/mx.acme.example
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.acme.example
Arrival-Date: Thu,  5 Mar 2026 09:59:58 +0000 (UTC)

Final-Recipient: rfc822; nobody@gone.example
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--7F1A2.1741168800/mx.acme.example
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers

From: Acme Support <support@acme.offload.localhost>
To: nobody@gone.example
Subject: Re: Broken router [#43]
Message-ID: <beef@acme.offload.localhost>

--7F1A2.1741168800/mx.acme.example--
"""
)


def simple(headers: str, body: str = "Hello", content_type: str = "text/plain") -> bytes:
    extra = f"{headers}\n" if headers else ""
    return crlf(
        "From: Customer <customer@example.org>\n"
        "To: support@acme.offload.localhost\n"
        "Subject: Question\n"
        "Message-ID: <q-1@example.org>\n"
        f"{extra}"
        f'Content-Type: {content_type}; charset="utf-8"\n'
        "\n"
        f"{body}\n"
    )


# ------------------------------------------------------------------ people's mail


def test_a_gmail_reply_has_its_fields_and_its_thread():
    # when
    mail = mailparse.parse(GMAIL_REPLY)
    # then
    assert mail.message_id == "CAF=abc123+XyZ@mail.gmail.com"
    assert not mail.message_id_generated
    assert mail.in_reply_to == "c0ffee@acme.offload.localhost"
    assert mail.references == ("first@mail.example.com", "c0ffee@acme.offload.localhost")
    assert mail.thread_ids == ("c0ffee@acme.offload.localhost", "first@mail.example.com")
    assert mail.subject == "Re: Factura demasiado alta — cuenta [#42]"
    assert (mail.sender, mail.sender_name) == ("jane.doe@gmail.com", "Doe, Jane")
    assert mail.to == ("support@acme.offload.localhost",)
    assert mail.cc == ("bob@example.org", "carol@example.org")
    assert mail.date == datetime(2026, 3, 3, 9, 15, 2, tzinfo=UTC)
    assert mail.text.startswith("Hola, the account number is AC-00000042.\n\nGracias,\nJane")
    assert "Jane</div>" in mail.html
    assert mail.attachments == ()
    assert (mail.auto, mail.no_reply) == ("", "")
    assert mail.customer == "jane.doe@gmail.com"
    assert mail.headers["in-reply-to"] == "<c0ffee@acme.offload.localhost>"


def test_the_new_part_of_a_gmail_reply_leaves_the_quote_out():
    # when
    mail = mailparse.parse(GMAIL_REPLY)
    # then: "On ... wrote:" is wrapped over two lines, as Gmail does
    assert mailparse.reply_text(mail.text) == (
        "Hola, the account number is AC-00000042.\n\nGracias,\nJane"
    )


def test_an_outlook_reply_with_a_pdf_attachment():
    # when
    mail = mailparse.parse(OUTLOOK_WITH_PDF)
    # then
    assert (
        mail.message_id == "AM6PR0402MB3399A1B2C3D4E5F6@AM6PR0402MB3399.eurprd04.prod.outlook.com"
    )
    assert mail.subject == "RE: Invoice 2026-02 [#42]"
    assert mail.sender == "max.mustermann@contoso.com"
    assert mail.text.startswith("Hallo,\n\nanbei die Rechnung. Schöne Grüße\nMax")
    assert mailparse.reply_text(mail.text) == "Hallo,\n\nanbei die Rechnung. Schöne Grüße\nMax"
    [pdf] = mail.attachments
    assert (pdf.filename, pdf.content_type, pdf.data, pdf.inline) == (
        "Rechnung März.pdf",
        "application/pdf",
        PDF,
        False,
    )
    assert (mail.auto, mail.no_reply) == ("", "")


def test_an_html_only_message_gets_a_text_body_made_from_its_html():
    # given
    raw = simple(
        "",
        body=(
            "<html><head><style>p {color: red}</style><title>t</title></head><body>"
            "<p>Hello&nbsp;team,</p><p>my router <b>keeps</b> rebooting:<br>every hour.</p>"
            "<ul><li>model X1</li><li>firmware 2.1</li></ul>"
            "<script>alert('x')</script></body></html>"
        ),
        content_type="text/html",
    )
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.text == (
        "Hello team,\n\nmy router keeps rebooting:\nevery hour.\n\n- model X1\n\n- firmware 2.1"
    )
    assert mail.html.startswith("<html>")


def test_apple_mail_text_around_an_inline_picture_is_one_body_and_the_picture_a_file():
    # given
    png = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16
    raw = crlf(
        f"""
From: Ann <ann@example.org>
To: support@acme.offload.localhost
Subject: Screenshot
Message-ID: <apple-1@example.org>
Content-Type: multipart/mixed; boundary="Apple-Mail=_1"

--Apple-Mail=_1
Content-Type: text/plain; charset=us-ascii

Here is the error:

--Apple-Mail=_1
Content-Type: image/png; name="screen.png"
Content-Disposition: inline; filename="screen.png"
Content-Transfer-Encoding: base64

{base64.b64encode(png).decode()}
--Apple-Mail=_1
Content-Type: text/plain; charset=us-ascii

It happens every time.
--Apple-Mail=_1--
"""
    )
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.text == "Here is the error:\nIt happens every time."
    [picture] = mail.attachments
    assert (picture.filename, picture.content_type, picture.data, picture.inline) == (
        "screen.png",
        "image/png",
        png,
        True,
    )


def test_a_forwarded_message_is_one_attachment_of_type_message_rfc822():
    # given
    raw = crlf(
        """
From: Ann <ann@example.org>
To: support@acme.offload.localhost
Subject: Fwd: complaint
Message-ID: <fwd-1@example.org>
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: text/plain

See below.
--b1
Content-Type: message/rfc822
Content-Disposition: attachment

From: Someone <someone@example.net>
Subject: complaint
Message-ID: <inner@example.net>

The inner text.
--b1--
"""
    )
    # when
    mail = mailparse.parse(raw)
    # then: the inner message stays whole and its text does not join the body
    assert mail.text == "See below."
    [inner] = mail.attachments
    assert (inner.filename, inner.content_type) == ("message-2.eml", "message/rfc822")
    assert b"The inner text." in inner.data
    assert b"Message-ID: <inner@example.net>" in inner.data


# ------------------------------------------------------------------ automatic mail


def test_an_exchange_out_of_office_is_automatic():
    # when
    mail = mailparse.parse(EXCHANGE_OUT_OF_OFFICE)
    # then
    assert mail.auto == "Auto-Submitted: auto-replied"
    assert mail.no_reply == mail.auto
    assert mail.thread_ids == ("d00d@acme.offload.localhost", "c0ffee@acme.offload.localhost")


def test_a_gmail_vacation_reply_is_automatic():
    # when
    mail = mailparse.parse(GMAIL_VACATION)
    # then
    assert mail.auto == "Auto-Submitted: auto-replied"


def test_a_dsn_bounce_is_automatic_and_names_the_message_that_bounced():
    # when
    mail = mailparse.parse(DSN_BOUNCE)
    # then
    assert mail.auto == "Auto-Submitted: auto-replied"
    assert mail.sender == "mailer-daemon@mx.acme.example"
    assert mail.bounced_message_id == "beef@acme.offload.localhost"
    assert mail.thread_ids == ("beef@acme.offload.localhost",)
    assert "could not\nbe delivered" in mail.text


def test_a_bounce_returning_the_whole_message_names_it_too():
    # given: no Auto-Submitted; the report type alone makes it automatic
    raw = crlf(
        """
From: postmaster@mx.example.net
To: support@acme.offload.localhost
Subject: Delivery Status Notification (Failure)
Message-ID: <dsn-2@mx.example.net>
Content-Type: multipart/report; report-type=delivery-status; boundary="r"

--r
Content-Type: text/plain

Delivery failed.
--r
Content-Type: message/delivery-status

Final-Recipient: rfc822; x@example.net
Action: failed
Status: 5.0.0

--r
Content-Type: message/rfc822

From: support@acme.offload.localhost
Message-ID: <cafe@acme.offload.localhost>
Subject: Re: x

body
--r--
"""
    )
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.auto == "a delivery or read report (multipart/report)"
    assert mail.bounced_message_id == "cafe@acme.offload.localhost"


def test_a_plain_text_bounce_names_the_message_id_it_quotes():
    # given: qmail's bounces quote the original headers in the text
    raw = simple(
        "",
        body=(
            "Hi. This is the qmail-send program.\n\n--- Below this line is a copy of the "
            "message.\n\nMessage-ID: <feed@acme.offload.localhost>\nSubject: Re: x\n"
        ),
    ).replace(b"customer@example.org", b"MAILER-DAEMON@example.org")
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.auto == "sent by mailer-daemon@example.org"
    assert mail.bounced_message_id == "feed@acme.offload.localhost"


def test_each_sign_of_an_automatic_message_is_named():
    cases = {
        "Auto-Submitted: auto-generated": "Auto-Submitted: auto-generated",
        "X-Autoreply: yes": "X-Autoreply",
        "X-Autorespond: Out of office": "X-Autorespond",
        "Precedence: auto_reply": "Precedence: auto_reply",
        "Return-Path: <>": "a null Return-Path (a delivery report or an automatic reply)",
    }
    for header, reason in cases.items():
        mail = mailparse.parse(simple(header))
        assert (mail.auto, mail.no_reply) == (reason, reason), header


def test_robot_senders_are_automatic():
    for sender in ("MAILER-DAEMON@example.org", "postmaster@example.org"):
        raw = simple("").replace(b"customer@example.org", sender.encode())
        assert mailparse.parse(raw).auto == f"sent by {sender.lower()}"


def test_bulk_and_list_mail_gets_no_answer_but_is_a_persons_message():
    cases = {
        "Precedence: bulk": "Precedence: bulk",
        "Precedence: junk": "Precedence: junk",
        "Precedence: list": "Precedence: list",
        "X-Auto-Response-Suppress: OOF, AutoReply": "X-Auto-Response-Suppress: OOF, AutoReply",
        "List-Id: <support.lists.example.org>": "List-Id (mailing-list mail)",
        "List-Unsubscribe: <mailto:unsub@example.org>": "List-Unsubscribe (bulk mail)",
    }
    for header, reason in cases.items():
        mail = mailparse.parse(simple(header))
        assert (mail.auto, mail.no_reply) == ("", reason), header


def test_noreply_senders_get_no_answer():
    for sender in ("noreply@bank.example", "no-reply@shop.example", "do-not-reply@x.example"):
        raw = simple("").replace(b"customer@example.org", sender.encode())
        mail = mailparse.parse(raw)
        assert (mail.auto, mail.no_reply) == ("", f"sent by {sender}, which takes no replies")


def test_auto_submitted_no_is_a_persons_message():
    # when
    mail = mailparse.parse(simple("Auto-Submitted: no"))
    # then
    assert (mail.auto, mail.no_reply) == ("", "")


# ------------------------------------------------------------------ ids


def test_a_message_without_an_id_gets_a_stable_one_from_its_content():
    # given
    raw = crlf(
        """
From: a@example.org
To: support@acme.offload.localhost
Subject: no id

text
"""
    )
    relayed = b"Received: from mx.example.org by us; Thu, 5 Mar 2026\r\n" + raw
    # when
    first, again, via_relay = (mailparse.parse(r) for r in (raw, raw, relayed))
    other = mailparse.parse(raw.replace(b"text", b"other text"))
    # then
    assert first.message_id_generated
    assert first.message_id.endswith("@" + mailparse.GENERATED_DOMAIN)
    assert first.message_id == again.message_id == via_relay.message_id
    assert other.message_id != first.message_id


def test_ids_without_brackets_and_garbage_around_them():
    # given
    raw = simple(
        "In-Reply-To: Your message of Tue <abc@example.net> (sent by Bob)\n"
        "References: <r1@example.net>\n <r2@example.net>\t<r3@example.net>"
    ).replace(b"<q-1@example.org>", b"bare-id@example.org")
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.message_id == "bare-id@example.org"
    assert mail.in_reply_to == "abc@example.net"
    assert mail.references == ("r1@example.net", "r2@example.net", "r3@example.net")
    assert mail.thread_ids == (
        "abc@example.net",
        "r3@example.net",
        "r2@example.net",
        "r1@example.net",
    )


def test_a_very_long_id_is_clipped_with_a_hash_of_the_whole():
    # given
    long_id = "x" * 1200 + "@example.org"
    raw = simple("").replace(b"q-1@example.org", long_id.encode())
    # when
    mail = mailparse.parse(raw)
    # then
    assert len(mail.message_id) == mailparse.ID_MAX
    assert mail.message_id != mailparse.parse(raw.replace(b"xxxx@", b"xxxy@")).message_id


# ------------------------------------------------------------------ malformed mail


def test_an_unknown_charset_and_broken_base64_are_read_leniently():
    # given
    raw = crlf(
        """
From: =?x-unknown?Q?Bad?= <bad@example.org>
To: support@acme.offload.localhost
Subject: =?utf-8?B?broken
Message-ID: <bad-1@example.org>
Content-Type: text/plain; charset="x-unknown-charset"
Content-Transfer-Encoding: base64

SGVsbG8gd29ybGQ=!!!
"""
    )
    # when
    mail = mailparse.parse(raw)
    # then
    assert mail.sender == "bad@example.org"
    assert mail.text.startswith("Hello world")
    assert mail.date is None


def test_bytes_that_are_not_mail_give_an_empty_message():
    # when
    mail = mailparse.parse(b"\x00\xff\xfe not mail at all")
    # then
    assert mail.sender == ""
    assert mail.message_id_generated


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_parse_never_raises(raw):
    mail = mailparse.parse(raw)
    assert mail.message_id


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: a@example.org\r\n",
                b"Subject: =?utf-8?q?x=ZZ?=\r\n",
                b"Content-Type: multipart/mixed; boundary=q\r\n",
                b"Content-Type: multipart/report\r\n",
                b"Content-Transfer-Encoding: base64\r\n",
                b"Message-ID: <>\r\n",
                b"In-Reply-To: <<<>\r\n",
                b"\r\n",
                b"--q\r\n",
                b"--q--\r\n",
                b"Content-Type: message/rfc822\r\n",
                b"Content-Disposition: attachment; filename*=bad''%ZZ\r\n",
                b"body text\r\n",
            ]
        ),
        max_size=30,
    )
)
def test_parse_never_raises_on_broken_structures(lines):
    mail = mailparse.parse(b"".join(lines))
    assert mail.message_id


# ------------------------------------------------------------------ answers


def test_reply_subjects_carry_the_item_token_once():
    assert mailparse.reply_subject("Bill too high", 42) == "Re: Bill too high [#42]"
    assert mailparse.reply_subject("RE: Fwd: AW: Bill [#42]", 42) == "Re: Bill [#42]"
    assert mailparse.reply_subject("", 7) == "Re: Your request [#7]"
    assert len(mailparse.reply_subject("x" * 600, 123456)) == 500


def test_subject_tokens_are_read_in_order():
    assert mailparse.subject_item_ids("Re: [#12] and [#345] [#x]") == [12, 345]
    assert mailparse.subject_item_ids("no token #12") == []


def test_references_keep_the_first_and_the_most_recent():
    # given
    previous = [f"m{i}@x" for i in range(30)]
    # when
    chain = mailparse.references_chain(previous, "parent@x")
    # then
    assert len(chain) == mailparse.REFERENCES_MAX
    assert chain[0] == "m0@x"
    assert chain[-2:] == ["m29@x", "parent@x"]
    assert mailparse.references_chain([], "p@x") == ["p@x"]
    assert mailparse.header_ids(["a@x", "b@y"]) == "<a@x> <b@y>"


def test_new_message_ids_are_unique_in_the_mailboxs_domain():
    # when
    ids = {mailparse.make_message_id("acme.example") for _ in range(100)}
    # then
    assert len(ids) == 100
    assert all(i.endswith("@acme.example") for i in ids)


def test_reply_text_cuts_each_kind_of_quote_header():
    cases = [
        "Thanks!\n\n-----Original Message-----\nFrom: x",
        "Thanks!\n\n________________________________\nFrom: x",
        "Thanks!\n\nLe lun. 2 mars 2026 à 09:00, Acme <s@x> a écrit :\n> q",
        "Thanks!\n\nAm Mo., 2. März 2026 um 09:00 Uhr schrieb Acme <s@x>:\n> q",
        "Thanks!\n\nEl lun, 2 mar 2026 a las 9:00, Acme (<s@x>) escribió:\n> q",
        "Thanks!\n> quoted tail\n>",
    ]
    for text in cases:
        assert mailparse.reply_text(text) == "Thanks!", text
    # nothing new above the quote: the whole text stays
    assert mailparse.reply_text("> only a quote") == "> only a quote"
