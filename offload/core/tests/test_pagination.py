import base64

import pytest
from django.contrib.auth.models import Group

from offload.core import errors, pagination


@pytest.mark.parametrize("pk", [1, 42, 10**12])
def test_cursor_round_trips(pk):
    # given
    cursor = pagination.encode_cursor(pk)
    # when
    decoded = pagination.decode_cursor(cursor)
    # then: opaque (no padding, no raw number) and reversible
    assert decoded == pk
    assert "=" not in cursor
    assert cursor != str(pk)


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!",
        "%%%",
        base64.urlsafe_b64encode(b"id:5").decode(),
        base64.urlsafe_b64encode(b"pk:five").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "",
    ],
)
def test_decode_cursor_refuses_what_it_did_not_issue(cursor):
    # given a cursor this API never issued
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        pagination.decode_cursor(cursor)
    # then
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("cursor", pagination.BAD_CURSOR)
    ]


@pytest.mark.django_db
def test_paginate_walks_every_row_once_in_key_order():
    # given five rows
    groups = [Group.objects.create(name=f"g{i}") for i in range(5)]
    # when walking pages of two
    seen: list[int] = []
    cursor, pages = None, 0
    while True:
        rows, cursor = pagination.paginate(Group.objects.all(), cursor=cursor, limit=2)
        seen.extend(g.pk for g in rows)
        pages += 1
        if cursor is None:
            break
    # then
    assert seen == sorted(g.pk for g in groups)
    assert pages == 3


@pytest.mark.django_db
def test_paginate_ends_with_no_cursor_when_the_page_is_exactly_full():
    # given exactly `limit` rows
    for i in range(2):
        Group.objects.create(name=f"g{i}")
    # when
    rows, cursor = pagination.paginate(Group.objects.all(), cursor=None, limit=2)
    # then: no empty trailing page is promised
    assert len(rows) == 2
    assert cursor is None


@pytest.mark.django_db
def test_page_answers_items_and_next_cursor():
    # given
    first, second = Group.objects.create(name="a"), Group.objects.create(name="b")
    # when
    body = pagination.page(Group.objects.all(), cursor=None, limit=1)
    # then
    assert body == {"items": [first], "next_cursor": pagination.encode_cursor(first.pk)}
    assert pagination.page(Group.objects.all(), cursor=body["next_cursor"], limit=1) == {  # type: ignore[arg-type]
        "items": [second],
        "next_cursor": None,
    }


@pytest.mark.parametrize("limit", [0, -1, pagination.MAX_LIMIT + 1])
def test_paginate_refuses_a_limit_out_of_range(limit):
    # given a limit outside 1..MAX_LIMIT
    # when
    with pytest.raises(errors.ValidationFailed) as caught:
        pagination.paginate(Group.objects.none(), cursor=None, limit=limit)
    # then
    assert [(e.field, e.message) for e in caught.value.errors] == [("limit", pagination.BAD_LIMIT)]
