"""The engagement lifecycle as a table: pure, no Django.

assess -> select -> contract -> transition -> pilot -> live, one step at a time and
only forward; exit is reachable from every stage and is final.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    ASSESS = "assess"
    SELECT = "select"
    CONTRACT = "contract"
    TRANSITION = "transition"
    PILOT = "pilot"
    LIVE = "live"
    EXIT = "exit"


ORDER = [Stage.ASSESS, Stage.SELECT, Stage.CONTRACT, Stage.TRANSITION, Stage.PILOT, Stage.LIVE]


def allowed_moves(current: Stage) -> list[Stage]:
    if current == Stage.EXIT:
        return []
    index = ORDER.index(current)
    forward = ORDER[index + 1 : index + 2]
    return [*forward, Stage.EXIT]


def can_move(current: Stage, target: Stage) -> bool:
    return target in allowed_moves(current)
