"""Template filters of the twin's pages: a comparison cell as text."""

from __future__ import annotations

from django import template

from offload.twin.selectors import Cell

register = template.Library()


def _number(value: float, unit: str, *, signed: bool = False) -> str:
    sign = "+" if signed else ""
    if unit == "share":
        return f"{value * 100:{sign}.1f} %"
    if unit == "seconds":
        return f"{value:{sign}.1f} s"
    if unit == "money":
        return f"{value:{sign}.2f}"
    return f"{value:{sign}.0f}"


@register.filter
def twin_cell(cell: Cell | None, unit: str) -> str:
    """ "82.1 % ± 1.2 (Δ +3.0 %)": the mean, its half width and the delta to the baseline."""
    if cell is None or cell.mean is None:
        return "-"
    text = _number(cell.mean, unit)
    if cell.half_width is not None:
        text += " ± " + _number(cell.half_width, unit)
    if cell.delta is not None:
        text += " (Δ " + _number(cell.delta, unit, signed=True) + ")"
    return text


@register.filter
def twin_percent(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"
