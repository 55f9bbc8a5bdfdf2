"""A per-day bar chart drawn as SVG on the server: no JavaScript, nothing fetched elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

WIDTH, HEIGHT, MARGIN_LEFT, MARGIN_BOTTOM = 640, 220, 44, 28


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    count: int


@dataclass(frozen=True)
class DayChart:
    bars: list[Bar]
    peak: int
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    bottom: int = HEIGHT - MARGIN_BOTTOM


def _every_day(days: list[tuple[date, int]]) -> list[tuple[date, int]]:
    """Fill the days without signatures between the first and the last with zeros."""
    counts = dict(days)
    first, last = days[0][0], days[-1][0]
    return [
        (first + timedelta(n), counts.get(first + timedelta(n), 0))
        for n in range((last - first).days + 1)
    ]


def day_chart(days: list[tuple[date, int]]) -> DayChart | None:
    """Lay out one bar per day, scaled to the busiest day; None when there is nothing to draw."""
    if not days:
        return None
    filled = _every_day(days)
    peak = max(count for _day, count in filled) or 1
    plot_width = WIDTH - MARGIN_LEFT - 8
    plot_height = HEIGHT - MARGIN_BOTTOM - 12
    step = plot_width / len(filled)
    bars = []
    for index, (day, count) in enumerate(filled):
        height = plot_height * count / peak
        bars.append(
            Bar(
                x=round(MARGIN_LEFT + index * step + step * 0.1, 1),
                y=round(HEIGHT - MARGIN_BOTTOM - height, 1),
                width=round(max(step * 0.8, 1), 1),
                height=round(height, 1),
                day=day,
                count=count,
            )
        )
    return DayChart(bars=bars, peak=peak)
