"""Importing these modules registers the work app's sweeps: `work.system_retry`
(services), `work.email_send` (mail_send, imported by services), `work.imap_poll`
(mail), `work.lease_expiry` and `work.wrap_up_expiry` (leases, imported by
services), `work.push_offers` and `work.offer_expiry` (dispatch)."""

from offload.work import dispatch, mail, services  # noqa: F401
