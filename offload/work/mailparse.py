"""E-mail, parsed: the standard library's `email` package and no Django.

`parse(raw)` turns the bytes of one RFC 5322 message into a `ParsedMail`: subject,
sender, recipients, text and HTML bodies (text made from the HTML when the message
has no text part), attachments, the threading ids (Message-ID, In-Reply-To,
References, and for a delivery report the Message-ID of the message that bounced),
and two verdicts:

- `auto`: why the message was written by a machine (an out-of-office, a bounce, a
  read receipt), or "" for a person's message. Such a message is recorded on its
  thread but never resumes an item or starts one.
- `no_reply`: why no automatic answer (an acknowledgement) may be sent to it: every
  `auto` reason, and the signs of bulk or list mail and of senders that take no
  answers. Such a message is otherwise handled like any other.

It also makes what outbound mail needs: Message-IDs, subjects carrying the item's
token (`[#42]`), References chains. The rules are docs/email.md.
"""

from __future__ import annotations

import hashlib
import mimetypes
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser

# A message id between angle brackets; ids are kept without the brackets.
_ID = re.compile(r"<([^<>\s]+)>")
ID_MAX = 900
# The domain of the ids made for messages that came without one.
GENERATED_DOMAIN = "generated.offload.invalid"
# Header lines a relay adds on the way: left out of the hash of a message without an
# id, so the same message retried through another hop gets the same id.
_TRACE_HEADERS = frozenset(
    {"received", "return-path", "delivered-to", "x-original-to", "x-received", "arc-seal"}
)
# The headers kept with a message (the ones threading, loop checks and people read).
KEPT_HEADERS = (
    "message-id",
    "in-reply-to",
    "references",
    "date",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "subject",
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "content-type",
)
HEADER_MAX = 2000

# Item tokens in subjects: "Re: Bill too high [#42]".
_TOKEN = re.compile(r"\[#(\d{1,18})\]")
_REPLY_PREFIX = re.compile(
    r"^\s*(?:(?:re|aw|sv|vs|antw|ref|fw|fwd|wg|tr|rv)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE
)
REFERENCES_MAX = 20

# ------------------------------------------------------------------ loop rules

PRECEDENCE_AUTO = frozenset({"auto_reply"})
PRECEDENCE_BULK = frozenset({"bulk", "junk", "list"})
ROBOT_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_NOREPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply)(?:[+-].*)?$", re.IGNORECASE)
REPORT_TYPES = frozenset({"multipart/report"})


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    inline: bool = False  # shown inside the HTML body (it has a Content-ID), not a file sent


@dataclass(frozen=True)
class ParsedMail:
    message_id: str  # without angle brackets
    message_id_generated: bool  # the message had none; this one is a hash of its content
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    sender: str  # the From address, lower-cased
    sender_name: str
    reply_to: str  # the Reply-To address, lower-cased, or ""
    to: tuple[str, ...]
    cc: tuple[str, ...]
    date: datetime | None
    text: str
    html: str
    attachments: tuple[MailAttachment, ...]
    headers: dict[str, str] = field(default_factory=dict)
    auto: str = ""
    no_reply: str = ""
    bounced_message_id: str = ""  # a delivery report's: the message that could not be delivered

    @property
    def customer(self) -> str:
        """Where an answer goes: the Reply-To address, else the sender."""
        return self.reply_to or self.sender

    @property
    def thread_ids(self) -> tuple[str, ...]:
        """The ids this message answers, best first: In-Reply-To, then References from
        the most recent, then the bounced message's."""
        ordered = [self.in_reply_to, *reversed(self.references), self.bounced_message_id]
        seen: dict[str, None] = {}
        for value in ordered:
            if value and value != self.message_id:
                seen.setdefault(value, None)
        return tuple(seen)


# ------------------------------------------------------------------ headers


def _unfold(value: str) -> str:
    return re.sub(r"\r?\n[ \t]+", " ", value).strip()


def _raw(msg: Message, name: str) -> list[str]:
    """The header's values as they came, unfolded and not decoded."""
    return [_unfold(str(v)) for k, v in msg.raw_items() if k.lower() == name]


def _decoded(msg: Message, name: str) -> str:
    """The header's first value, with encoded words decoded; never raises."""
    raw = _raw(msg, name)
    if not raw:
        return ""
    try:
        value = msg.get(name)
        return _unfold(str(value)) if value is not None else ""
    except Exception:  # a malformed header keeps its raw text
        try:
            return _unfold(str(make_header(decode_header(raw[0]))))
        except Exception:
            return raw[0]


def _addresses(msg: Message, name: str) -> list[tuple[str, str]]:
    """(display name, lower-cased address) of each address in the header(s)."""
    found: list[tuple[str, str]] = []
    try:
        for header in msg.get_all(name) or []:
            for address in header.addresses:  # type: ignore[attr-defined]
                found.append((str(address.display_name), str(address.addr_spec)))
    except Exception:  # fall back to the lenient parser
        found = list(getaddresses(_raw(msg, name)))
    return [(display, addr.strip().lower()) for display, addr in found if "@" in addr]


def ids_in(value: str) -> list[str]:
    """Message ids in a header value, without brackets; a bare `local@domain` counts
    when the value has no bracketed id (some mailers leave them out)."""
    found = _ID.findall(value or "")
    if not found:
        bare = (value or "").strip()
        if "@" in bare and not re.search(r"\s", bare):
            found = [bare]
    return [_clip_id(i) for i in found]


def _clip_id(value: str) -> str:
    if len(value) <= ID_MAX:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()[:32]
    return f"{value[: ID_MAX - 33]}~{digest}"


def _hash_id(raw: bytes) -> str:
    """A stable id for a message without one: the SHA-256 of its bytes, trace headers
    (which relays add) left out."""
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = raw.partition(b"\n\n")
    kept: list[bytes] = []
    skipping = False
    for line in head.splitlines():
        if line[:1] in (b" ", b"\t"):
            if not skipping:
                kept.append(line)
            continue
        name = line.split(b":", 1)[0].strip().lower().decode("ascii", "replace")
        skipping = name in _TRACE_HEADERS
        if not skipping:
            kept.append(line)
    digest = hashlib.sha256(b"\n".join(kept) + b"\n\n" + body).hexdigest()[:40]
    return f"{digest}@{GENERATED_DOMAIN}"


def _date(msg: Message) -> datetime | None:
    raw = _raw(msg, "date")
    if not raw:
        return None
    try:
        parsed = parsedate_to_datetime(raw[0])
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo is not None else None


# ------------------------------------------------------------------ bodies


class _Text(HTMLParser):
    """Plain text of an HTML body: blocks become lines, scripts and styles vanish."""

    BLOCKS = frozenset(
        {"p", "div", "br", "tr", "table", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6"}
        | {"blockquote", "hr", "section", "article", "header", "footer", "pre"}
    )
    HIDDEN = frozenset({"script", "style", "head", "title", "template"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in self.BLOCKS:
            self.parts.append("\n")
        elif tag in {"td", "th"}:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS or tag == "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text of an HTML body (lines per block, spaces collapsed)."""
    parser = _Text()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # broken markup: fall back to dropping tags
        return unescape(re.sub(r"<[^>]*>", " ", html)).strip()
    lines = [
        re.sub(r"[ \t\r\f\v\xa0]+", " ", line).strip() for line in "".join(parser.parts).split("\n")
    ]
    text = "\n".join(lines)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _content(part: Message) -> str:
    """A text part's content as str, whatever its charset claims."""
    try:
        content = part.get_content()  # type: ignore[attr-defined]
    except Exception:  # unknown charset or broken encoding: decode leniently below
        content = None
    if isinstance(content, str):
        return _lines(content)
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return _lines(payload.decode(charset, errors="replace"))
    except LookupError:
        return _lines(payload.decode("utf-8", errors="replace"))


def _lines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _leaves(part: Message) -> Iterator[Message]:
    """The leaf parts in order; an attached message (message/rfc822) is one leaf."""
    if part.get_content_type() == "message/rfc822" or not part.is_multipart():
        yield part
        return
    payload = part.get_payload()
    for sub in payload if isinstance(payload, list) else []:
        if isinstance(sub, Message):
            yield from _leaves(sub)


def _is_attachment(part: Message) -> bool:
    disposition = (part.get_content_disposition() or "").lower()
    return disposition == "attachment" or (
        part.get_filename() is not None and disposition != "inline"
    )


def _attachment(part: Message, n: int) -> MailAttachment | None:
    kind = part.get_content_type()
    if kind == "message/rfc822":
        payload = part.get_payload()
        inner = payload[0] if isinstance(payload, list) and payload else None
        try:
            data = inner.as_bytes() if isinstance(inner, Message) else b""
        except Exception:  # an attached message that cannot be re-serialised
            data = b""
        name = part.get_filename() or f"message-{n}.eml"
        return MailAttachment(name, kind, data)
    raw = part.get_payload(decode=True)
    data = raw if isinstance(raw, bytes) else b""
    name = part.get_filename() or f"attachment-{n}{mimetypes.guess_extension(kind) or '.bin'}"
    inline = (part.get_content_disposition() or "") == "inline" or (
        part.get("content-id") is not None and not _is_attachment(part)
    )
    return MailAttachment(name, kind, data, inline=inline)


def _bodies(msg: Message) -> tuple[str, str, list[MailAttachment]]:
    """(text, html, attachments). Text and HTML are the message's body parts; extra
    inline text parts (Apple Mail splits text around pictures) join the body."""
    text_part = html_part = None
    try:
        text_part = msg.get_body(preferencelist=("plain",))  # type: ignore[attr-defined]
        html_part = msg.get_body(preferencelist=("html",))  # type: ignore[attr-defined]
    except Exception:  # a malformed structure: the walk below decides
        text_part = html_part = None
    texts: list[str] = []
    htmls: list[str] = []
    attachments: list[MailAttachment] = []
    for n, part in enumerate(_leaves(msg), start=1):
        kind = part.get_content_type()
        if kind in {"message/delivery-status", "message/disposition-notification"}:
            continue
        body = not _is_attachment(part) and part.get("content-id") is None
        if part is text_part or (body and kind == "text/plain"):
            texts.append(_content(part))
            continue
        if part is html_part or (body and kind == "text/html"):
            htmls.append(_content(part))
            continue
        found = _attachment(part, n)
        if found is not None:
            attachments.append(found)
    html = "\n".join(h for h in htmls if h)
    text = "\n".join(t.rstrip() for t in texts if t.strip())
    if not text and html:
        text = html_to_text(html)
    return text.strip("\n"), html, attachments


# ------------------------------------------------------------------ loops


def _bounced_id(msg: Message, text: str) -> str:
    """A delivery report's original Message-ID: from its returned message or headers,
    else from a `Message-ID:` line quoted in its text."""
    for part in msg.walk():
        kind = part.get_content_type()
        if kind == "message/rfc822":
            payload = part.get_payload()
            inner = payload[0] if isinstance(payload, list) and payload else None
            if isinstance(inner, Message):
                ids = ids_in(" ".join(_raw(inner, "message-id")))
                if ids:
                    return ids[0]
        elif kind in {"text/rfc822-headers", "message/rfc822-headers"}:
            headers = HeaderParser().parsestr(_content(part))
            ids = ids_in(str(headers.get("message-id", "")))
            if ids:
                return ids[0]
    match = re.search(r"^\s*Message-ID:\s*<([^<>\s]+)>", text, re.IGNORECASE | re.MULTILINE)
    return _clip_id(match.group(1)) if match else ""


def _local_part(address: str) -> str:
    return address.split("@", 1)[0].lower()


def loop_verdict(
    headers: Iterable[tuple[str, str]], *, sender: str, content_type: str
) -> tuple[str, str]:
    """(auto, no_reply): why the message is automatic, and why it may get no automatic
    answer ("" each when it is a person's and may). `headers` are (name, raw value)."""
    values: dict[str, list[str]] = {}
    for name, value in headers:
        values.setdefault(name.lower(), []).append(value.strip())

    def first(name: str) -> str | None:
        found = values.get(name)
        return found[0] if found else None

    auto = ""
    submitted = first("auto-submitted")
    precedence = (first("precedence") or "").lower()
    local = _local_part(sender) if sender else ""
    if submitted is not None and submitted.split(";")[0].strip().lower() != "no":
        auto = f"Auto-Submitted: {submitted}"
    elif first("x-autoreply") is not None:
        auto = "X-Autoreply"
    elif first("x-autorespond") is not None:
        auto = "X-Autorespond"
    elif precedence in PRECEDENCE_AUTO:
        auto = f"Precedence: {precedence}"
    elif content_type in REPORT_TYPES:
        auto = f"a delivery or read report ({content_type})"
    elif local in ROBOT_SENDERS:
        auto = f"sent by {sender}"
    elif (first("return-path") or "").replace(" ", "") == "<>":
        auto = "a null Return-Path (a delivery report or an automatic reply)"
    if auto:
        return auto, auto

    no_reply = ""
    if precedence in PRECEDENCE_BULK:
        no_reply = f"Precedence: {precedence}"
    elif first("x-auto-response-suppress") is not None:
        no_reply = f"X-Auto-Response-Suppress: {first('x-auto-response-suppress')}"
    elif first("list-id") is not None:
        no_reply = "List-Id (mailing-list mail)"
    elif first("list-unsubscribe") is not None:
        no_reply = "List-Unsubscribe (bulk mail)"
    elif local and _NOREPLY.match(local):
        no_reply = f"sent by {sender}, which takes no replies"
    return "", no_reply


# ------------------------------------------------------------------ parse


def parse(raw: bytes) -> ParsedMail:
    """One message's fields; never raises on malformed mail (missing parts are empty)."""
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    own_ids = ids_in(" ".join(_raw(msg, "message-id")))
    generated = not own_ids
    message_id = own_ids[0] if own_ids else _hash_id(raw)
    reply_ids = ids_in(" ".join(_raw(msg, "in-reply-to")))
    references = tuple(ids_in(" ".join(_raw(msg, "references"))))
    senders = _addresses(msg, "from") or _addresses(msg, "sender")
    sender_name, sender = senders[0] if senders else ("", "")
    reply_to = _addresses(msg, "reply-to")
    text, html, attachments = _bodies(msg)
    content_type = msg.get_content_type()
    auto, no_reply = loop_verdict(msg.raw_items(), sender=sender, content_type=content_type)
    bounced = _bounced_id(msg, text) if auto else ""
    headers = {name: _decoded(msg, name)[:HEADER_MAX] for name in KEPT_HEADERS if _raw(msg, name)}
    return ParsedMail(
        message_id=message_id,
        message_id_generated=generated,
        in_reply_to=reply_ids[0] if reply_ids else "",
        references=references,
        subject=re.sub(r"\s+", " ", _decoded(msg, "subject")).strip(),
        sender=sender,
        sender_name=sender_name,
        reply_to=reply_to[0][1] if reply_to else "",
        to=tuple(addr for _, addr in _addresses(msg, "to")),
        cc=tuple(addr for _, addr in _addresses(msg, "cc")),
        date=_date(msg),
        text=text,
        html=html,
        attachments=tuple(attachments),
        headers=headers,
        auto=auto,
        no_reply=no_reply,
        bounced_message_id=bounced,
    )


# ------------------------------------------------------------------ replies


_QUOTE_HEADERS = (
    re.compile(r"^On .{1,300}wrote:\s*$", re.IGNORECASE),
    re.compile(r"^-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),
    re.compile(r"^Le .{1,300}a écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^Am .{1,300}schrieb .{1,200}:\s*$", re.IGNORECASE),
    re.compile(r"^El .{1,300}escribió\s*:\s*$", re.IGNORECASE),
)
_OUTLOOK_FROM = re.compile(r"^\*?(From|De|Von|Van):\*?\s", re.IGNORECASE)
_OUTLOOK_NEXT = re.compile(
    r"^\*?(Sent|Date|Envoyé|Gesendet|Enviado|Verzonden):\*?\s", re.IGNORECASE
)


def reply_text(text: str) -> str:
    """The new part of a reply: the text above the quoted message ("On ... wrote:",
    Outlook's "From: ... Sent: ..." block, "-----Original Message-----"), without
    trailing `>` lines. The whole text when nothing is left."""
    lines = text.splitlines()
    cut = len(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        joined = f"{stripped} {lines[i + 1].strip()}" if i + 1 < len(lines) else stripped
        if any(p.match(stripped) for p in _QUOTE_HEADERS) or (
            stripped.lower().startswith("on ") and _QUOTE_HEADERS[0].match(joined)
        ):
            cut = i
            break
        if (
            _OUTLOOK_FROM.match(stripped)
            and i + 1 < len(lines)
            and _OUTLOOK_NEXT.match(lines[i + 1].strip())
        ):
            cut = i
            break
    kept = lines[:cut]
    while kept and (not kept[-1].strip() or kept[-1].lstrip().startswith(">")):
        kept.pop()
    result = "\n".join(kept).strip()
    return result or text.strip()


def subject_token(item_id: int) -> str:
    return f"[#{item_id}]"


def subject_item_ids(subject: str) -> list[int]:
    """Item ids carried by `[#<id>]` tokens in a subject, in order."""
    return [int(m) for m in _TOKEN.findall(subject or "")]


def base_subject(subject: str) -> str:
    """The subject without reply or forward prefixes and item tokens."""
    bare = _TOKEN.sub("", subject or "")
    bare = _REPLY_PREFIX.sub("", bare)
    return re.sub(r"\s+", " ", bare).strip()


def reply_subject(subject: str, item_id: int, *, limit: int = 500) -> str:
    """`Re: <subject> [#<item id>]`, the subject shortened to fit `limit`."""
    token = subject_token(item_id)
    base = base_subject(subject) or "Your request"
    room = limit - len(token) - len("Re:  ")
    return f"Re: {base[:room].rstrip()} {token}"


def make_message_id(domain: str) -> str:
    """A new Message-ID (without brackets) for a message we send."""
    return f"{uuid.uuid4().hex}@{domain or 'offload.invalid'}"


def references_chain(
    previous: Iterable[str], parent: str, *, limit: int = REFERENCES_MAX
) -> list[str]:
    """The References of an answer to `parent`: its References and itself, the oldest
    (the thread's first message) and the most recent kept when it is long."""
    chain = [i for i in previous if i and i != parent]
    if parent:
        chain.append(parent)
    if len(chain) > limit:
        chain = [chain[0], *chain[-(limit - 1) :]]
    return chain


def header_ids(ids: Iterable[str]) -> str:
    return " ".join(f"<{i}>" for i in ids if i)
