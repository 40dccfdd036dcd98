"""Offload's built-in bots (docs/bots.md).

`invoice_check` is the pure check (no Django); `runner` drives a bot as an HTTP
client of the API (`offload bot run NAME`), also without Django; `attended` runs the
check on an item for an agent, server-side.
"""
