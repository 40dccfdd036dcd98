"""Writes for the in-app notification inbox and its e-mail copies (docs/notifications.md).

A sender (the SLA engine first) calls `notification_send`; each recipient gets one row
in their inbox, and those who chose `notify_by_email` also get an e-mail, sent after
the sender's transaction commits. Everything else here is the recipient's own doing:
marking read and choosing e-mail.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from django.conf import settings
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.utils import timezone

from offload.core import errors
from offload.tenancy import visibility
from offload.tenancy.models import Membership, Notification, User
from offload.tenancy.visibility import Principal

logger = logging.getLogger(__name__)

BAD_KIND = "a short slug: lower-case letters, digits and underscores, up to 40"
NO_TITLE = "must not be blank"
TOO_LONG = "at most {limit} characters"
TOO_LONG_OR_EMPTY = "between 1 and {limit} characters"
BAD_LINK = "a path on this site, starting with one '/' (e.g. /items/123/)"
NOT_FOUND = "notification not found"
NO_INBOX = "this API key acts as no user, so it has no inbox or notification preferences"

KIND = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TITLE_MAX = 200
LINK_MAX = 500
DEDUPE_KEY_MAX = 200


def _checks(
    *, kind: str, title: str, link: str, dedupe_key: str | None
) -> list[tuple[str, str | None]]:
    checks: list[tuple[str, str | None]] = [
        ("kind", None if KIND.match(kind) else BAD_KIND),
        ("title", None if title.strip() else NO_TITLE),
        ("title", None if len(title) <= TITLE_MAX else TOO_LONG.format(limit=TITLE_MAX)),
        ("link", None if len(link) <= LINK_MAX else TOO_LONG.format(limit=LINK_MAX)),
    ]
    # Relative to the site, so a notification never sends anyone elsewhere: not
    # `https://...`, not the protocol-relative `//host/...`.
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link):
        checks.append(("link", BAD_LINK))
    if dedupe_key is not None and not 1 <= len(dedupe_key) <= DEDUPE_KEY_MAX:
        checks.append(("dedupe_key", TOO_LONG_OR_EMPTY.format(limit=DEDUPE_KEY_MAX)))
    return checks


def _organisations(user_ids: list[int]) -> dict[int, int]:
    """Each user's organisation id: their first membership, as `principal_for_user`
    picks it, so a notification lands in the inbox its recipient signs in to."""
    out: dict[int, int] = {}
    rows = Membership.objects.filter(user_id__in=user_ids).order_by("id")
    for user_id, organisation_id in rows.values_list("user_id", "organisation_id"):
        out.setdefault(user_id, organisation_id)
    return out


@transaction.atomic
def notification_send(
    *,
    recipients: Iterable[User],
    kind: str,
    title: str,
    body: str,
    link: str = "",
    dedupe_key: str | None = None,
) -> list[Notification]:
    """Put one notification in each recipient's inbox, in one INSERT; return them.

    Recipients who are inactive or belong to no organisation (so have no inbox) are
    skipped. With a `dedupe_key`, a recipient who already has a notification with that
    key is skipped too, and the unique constraint (the insert ignores conflicts) keeps
    a concurrent twin from adding a second: a retried sweep never notifies twice.

    Recipients with `notify_by_email` and an address get an e-mail after the caller's
    transaction commits (`transaction.on_commit`), so a rolled-back sweep sends nothing.
    """
    errors.raise_failures(_checks(kind=kind, title=title, link=link, dedupe_key=dedupe_key))
    people = {u.pk: u for u in recipients if u.is_active}
    if dedupe_key is not None:
        notified = Notification.objects.filter(recipient_id__in=people, dedupe_key=dedupe_key)
        for user_id in notified.values_list("recipient_id", flat=True):
            people.pop(user_id, None)
    organisations = _organisations(list(people))
    now = timezone.now()
    rows = [
        Notification(
            recipient=user,
            organisation_id=organisations[user.pk],
            kind=kind,
            title=title,
            body=body,
            link=link,
            dedupe_key=dedupe_key,
            created_at=now,
        )
        for user in people.values()
        if user.pk in organisations
    ]
    if not rows:
        return []
    if dedupe_key is None:
        created = Notification.objects.bulk_create(rows)
    else:
        # Ignoring conflicts leaves the new rows without their ids: read them back.
        Notification.objects.bulk_create(rows, ignore_conflicts=True)
        created = list(
            Notification.objects.filter(
                recipient_id__in=[r.recipient_id for r in rows], dedupe_key=dedupe_key
            ).select_related("recipient")
        )
    to_email = [n.pk for n in created if n.recipient.notify_by_email and n.recipient.email]
    if to_email:
        transaction.on_commit(lambda: notifications_email(to_email))
    return created


def _message(notification: Notification, connection: BaseEmailBackend) -> mail.EmailMessage:
    text = notification.body
    if notification.link:
        # OFFLOAD_SITE_URL (e.g. https://offload.example.com) makes the link absolute.
        site = getattr(settings, "OFFLOAD_SITE_URL", "").rstrip("/")
        text = f"{text}\n\n{site}{notification.link}".lstrip()
    return mail.EmailMessage(
        subject=notification.title,
        body=text,
        to=[notification.recipient.email],
        connection=connection,
    )


def notifications_email(notification_ids: list[int]) -> int:
    """E-mail these notifications (run after commit); returns how many were sent.

    Each is claimed by setting `emailed_at` where it is still empty, so two callers
    never send the same one. A failure to send is logged and clears `emailed_at`
    again; it never touches the notification in the inbox, and it is not retried.
    """
    # The preference as it is now: it may have changed since the sender read it.
    rows = list(
        Notification.objects.filter(
            pk__in=notification_ids, emailed_at__isnull=True, recipient__notify_by_email=True
        )
        .exclude(recipient__email="")
        .select_related("recipient")
        .order_by("pk")
    )
    if not rows:
        return 0
    sent = 0
    try:
        connection = mail.get_connection()
        connection.open()
    except Exception:
        logger.exception("notifications %s: cannot reach the mail server", notification_ids)
        return 0
    try:
        for notification in rows:
            claimed = Notification.objects.filter(
                pk=notification.pk, emailed_at__isnull=True
            ).update(emailed_at=timezone.now())
            if not claimed:
                continue
            try:
                _message(notification, connection).send()
            except Exception:
                logger.exception(
                    "notification %s: e-mail to user %s failed; it stays in the inbox",
                    notification.pk,
                    notification.recipient_id,
                )
                Notification.objects.filter(pk=notification.pk).update(emailed_at=None)
            else:
                sent += 1
    finally:
        connection.close()
    return sent


# ------------------------------------------------------------------ the recipient's own


def own_user(actor: Principal) -> User:
    """The actor's user, whose inbox it is; an organisation's key has none (404)."""
    if actor.user is None:
        raise errors.NotFound(NO_INBOX)
    return actor.user


def notification_mark_read(*, actor: Principal, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read; marking it again changes nothing."""
    visibility.require(actor, "notification.own")
    user = own_user(actor)
    if (
        notification.recipient_id != user.pk
        or notification.organisation_id != actor.organisation.pk
    ):
        raise errors.NotFound(NOT_FOUND)
    if notification.read_at is None:
        now = timezone.now()
        # Only where still unread, so the first read's time is kept under a race.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now)
        notification.refresh_from_db(fields=["read_at"])
    return notification


def notification_mark_all_read(*, actor: Principal) -> int:
    """Mark every unread notification of the actor's inbox read; returns how many.
    An organisation's key has no inbox: nothing to mark."""
    visibility.require(actor, "notification.own")
    unread = visibility.visible(actor, Notification.objects.filter(read_at__isnull=True))
    return unread.update(read_at=timezone.now())


def notification_preferences_update(
    *, actor: Principal, notify_by_email: bool | None = None
) -> User:
    """The actor's own choice of e-mail copies (None keeps it). Personal, so not in the
    audit trail."""
    visibility.require(actor, "notification.own")
    user = own_user(actor)
    if notify_by_email is not None and user.notify_by_email != notify_by_email:
        user.notify_by_email = notify_by_email
        user.save(update_fields=["notify_by_email"])
    return user
