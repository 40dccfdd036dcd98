from __future__ import annotations

import pytest

from offload.contracts.tests.factories import make_engagement
from offload.tenancy.tests.factories import make_principal
from offload.work import selectors
from offload.work.tests.factories import make_item, make_process

pytestmark = pytest.mark.django_db


def test_work_item_list_of_a_provider_spans_its_clients_only():
    # given
    first = make_process()
    second = make_process(engagement=make_engagement(provider=first.provider))
    a = make_item(first)
    b = make_item(second)
    make_item()  # another provider's client
    agent = make_principal(first.provider, "agent")
    # when
    items = list(selectors.work_item_list(principal=agent).order_by("pk"))
    # then
    assert items == [a, b]


def test_work_item_list_by_tag_matches_whole_tags():
    # given
    process = make_process()
    vip = make_item(process, tags=["vip", "billing"])
    make_item(process, tags=["vip-lounge"])
    make_item(process, tags=[])
    principal = make_principal(process.client, "client_viewer")
    # when
    items = list(selectors.work_item_list(principal=principal, tag="vip"))
    # then
    assert items == [vip]


def test_work_item_list_text_search_ignores_case():
    # given
    process = make_process()
    hit = make_item(process, subject="The ROUTER is down")
    make_item(process, subject="Invoice")
    principal = make_principal(process.client, "client_viewer")
    # when
    items = list(selectors.work_item_list(principal=principal, q="router"))
    # then
    assert items == [hit]


def test_work_item_events_are_in_seq_order():
    # given
    item = make_item()
    # when
    events = list(selectors.work_item_events(item=item))
    # then
    assert [(e.seq, e.type) for e in events] == [(1, "created"), (2, "queued")]
