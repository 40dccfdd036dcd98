"""Importing these modules registers the work app's sweeps: `work.system_retry`
(services), `work.email_send` (mail_send, imported by services), `work.imap_poll`
(mail), `work.lease_expiry` and `work.wrap_up_expiry` (leases, imported by
services), `work.push_offers` and `work.offer_expiry` (dispatch), `work.sla_check`
(clock_sweep)."""

from offload.work import clock_sweep, dispatch, mail, services  # noqa: F401
