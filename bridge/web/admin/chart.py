"""A per-minute line chart as SVG geometry: pure, so the page needs no script and the numbers can be tested.

The SVG holds only lines: its labels are HTML around it, so they stay readable however wide the chart is drawn.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

WIDTH, HEIGHT = 1440.0, 200.0  # the viewBox: one unit per minute of a day


@dataclass(frozen=True)
class Series:
    """One line: its name, CSS class, points in viewBox units, and its total and busiest minute."""

    name: str
    css: str
    points: str
    total: int
    peak: int


@dataclass(frozen=True)
class Chart:
    first_minute: int
    minutes: int
    top: int  # the value at the top of the chart
    series: tuple[Series, ...]
    x_labels: tuple[str, ...]  # evenly spaced, oldest first: how long ago
    hours: tuple[tuple[str, tuple[int, ...]], ...]  # per clock hour: its label and each series' total

    @property
    def width(self) -> float:
        return WIDTH

    @property
    def height(self) -> float:
        return HEIGHT


def _scale(top: int) -> int:
    """A round number at or above `top` (1, 2, 5, 10, 20, 50, …), so the top line reads well."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if step * factor >= top:
                return step * factor
        step *= 10


def _points(counts: Mapping[int, int], first: int, minutes: int, top: int) -> str:
    step = WIDTH / max(minutes - 1, 1)
    return " ".join(f"{i * step:.1f},{HEIGHT - counts.get(first + i, 0) * HEIGHT / top:.1f}" for i in range(minutes))


def _sum(counts: Mapping[int, int], first: int, stop: int) -> int:
    return sum(counts.get(minute, 0) for minute in range(first, stop))


def _clock(minute: int) -> str:
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%H:%M")


def _ago(minutes: int) -> str:
    if minutes == 0:
        return "now"
    return f"{minutes / 60:.0f} h ago" if minutes >= 120 else f"{minutes} min ago"


def build(first_minute: int, minutes: int, lines: Mapping[tuple[str, str], Mapping[int, int]]) -> Chart:
    """The chart of `lines` ({(name, css class): {minute: count}}) over `minutes` minutes from `first_minute`."""
    window = range(first_minute, first_minute + minutes)
    top = _scale(max([1] + [counts.get(m, 0) for counts in lines.values() for m in window]))
    series = tuple(Series(name, css, _points(counts, first_minute, minutes, top),
                          sum(counts.get(m, 0) for m in window), max([0] + [counts.get(m, 0) for m in window]))
                   for (name, css), counts in lines.items())
    x_labels = tuple(_ago(minutes - 1 - round(i * (minutes - 1) / 4)) for i in range(5))
    starts = range(first_minute - first_minute % 60, window.stop, 60)  # clock hours, the first and last partly
    hours = tuple((_clock(start), tuple(_sum(counts, max(start, first_minute), min(start + 60, window.stop))
                                        for counts in lines.values()))
                  for start in starts)
    return Chart(first_minute, minutes, top, series, x_labels, hours)
