"""The org chart's picture: where each box and line goes. The template draws it as an
inline SVG (no script; CSP allows it), each box a link to that person."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

from portal.people import PersonCard

BOX_W: Final = 232
BOX_H: Final = 64
GAP_X: Final = 16
GAP_Y: Final = 32
PAD: Final = 16
COLUMNS: Final = 4
NAME_CHARS: Final = 24
TITLE_CHARS: Final = 28


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    person: PersonCard
    kind: str  # "manager", "self" or "report"
    name: str
    title: str


@dataclass(frozen=True)
class Line:
    x1: int
    y1: int
    x2: int
    y2: int


@dataclass
class OrgChart:
    width: int
    height: int
    boxes: list[Box] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    more_reports: int = 0
    more_at: tuple[int, int] = (0, 0)
    box_w: int = BOX_W
    box_h: int = BOX_H


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _box(x: int, y: int, person: PersonCard, kind: str) -> Box:
    return Box(x, y, person, kind, _clip(person.name, NAME_CHARS), _clip(person.title, TITLE_CHARS))


def org_chart(
    *, chain: list[PersonCard], person: PersonCard, reports: list[PersonCard], more_reports: int
) -> OrgChart:
    """Managers top down (chain is nearest first), the person, then the direct reports
    in rows of COLUMNS under a bus line."""
    columns = max(1, min(COLUMNS, len(reports)))
    width = columns * BOX_W + (columns - 1) * GAP_X + 2 * PAD
    centre_x = (width - BOX_W) // 2
    chart = OrgChart(width=width, height=0, more_reports=more_reports)
    y = PAD
    for kind, card in [*(("manager", m) for m in reversed(chain)), ("self", person)]:
        if chart.boxes:
            chart.lines.append(Line(width // 2, y - GAP_Y, width // 2, y))
        chart.boxes.append(_box(centre_x, y, card, kind))
        y += BOX_H + GAP_Y
    _place_reports(chart, reports, top=y, columns=columns)
    return chart


def _place_reports(chart: OrgChart, reports: list[PersonCard], *, top: int, columns: int) -> None:
    last_y = top - GAP_Y
    if reports:
        bus_y = top - GAP_Y // 2
        chart.lines.append(Line(chart.width // 2, top - GAP_Y, chart.width // 2, bus_y))
        first_centre = PAD + BOX_W // 2
        last_centre = PAD + (columns - 1) * (BOX_W + GAP_X) + BOX_W // 2
        chart.lines.append(Line(first_centre, bus_y, last_centre, bus_y))
    for index, card in enumerate(reports):
        row, column = divmod(index, columns)
        x = PAD + column * (BOX_W + GAP_X)
        y = top + row * (BOX_H + GAP_Y)
        if row == 0:
            chart.lines.append(Line(x + BOX_W // 2, top - GAP_Y // 2, x + BOX_W // 2, y))
        chart.boxes.append(_box(x, y, card, "report"))
        last_y = y + BOX_H
    if chart.more_reports:
        chart.more_at = (PAD, last_y + 28)
        last_y += 36
    chart.height = last_y + PAD
