"""Importing these modules registers the work app's sweeps: `work.system_retry`
(services), `work.email_send` (mail_send, imported by services) and `work.imap_poll`
(mail)."""

from offload.work import mail, services  # noqa: F401
