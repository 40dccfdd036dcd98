"""The engagement lifecycle table: pure, no database."""

from __future__ import annotations

import itertools

import pytest

from offload.contracts.lifecycle import ORDER, Stage, allowed_moves, can_move

S = Stage
# The table as the issue states it: one step forward, or exit; exit is final.
EXPECTED: dict[Stage, set[Stage]] = {
    S.ASSESS: {S.SELECT, S.EXIT},
    S.SELECT: {S.CONTRACT, S.EXIT},
    S.CONTRACT: {S.TRANSITION, S.EXIT},
    S.TRANSITION: {S.PILOT, S.EXIT},
    S.PILOT: {S.LIVE, S.EXIT},
    S.LIVE: {S.EXIT},
    S.EXIT: set(),
}


@pytest.mark.parametrize(("current", "target"), list(itertools.product(Stage, Stage)))
def test_can_move_matches_the_table_for_every_pair(current, target):
    # when
    allowed = can_move(current, target)
    # then
    assert allowed is (target in EXPECTED[current])


@pytest.mark.parametrize("current", list(Stage))
def test_allowed_moves_lists_next_stage_then_exit(current):
    # when
    moves = allowed_moves(current)
    # then
    assert set(moves) == EXPECTED[current]
    assert len(moves) == len(EXPECTED[current])
    if moves:
        assert moves[-1] == S.EXIT


def test_order_covers_every_stage_but_exit_once():
    # then
    assert ORDER == [S.ASSESS, S.SELECT, S.CONTRACT, S.TRANSITION, S.PILOT, S.LIVE]
    assert set(ORDER) | {S.EXIT} == set(Stage)


def test_no_stage_moves_to_itself_or_backwards():
    # given
    rank = {stage: i for i, stage in enumerate(ORDER)}
    # when
    backward_or_same = [
        (a, b) for a, b in itertools.product(ORDER, ORDER) if rank[b] <= rank[a] and can_move(a, b)
    ]
    # then
    assert backward_or_same == []
