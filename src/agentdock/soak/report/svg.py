"""Small inline-SVG charts for the HTML report: no scripts, no external assets.

Two kinds: a line chart with optional bands and event ticks (success over
time), and empirical CDFs (latency distributions).  Every string that reaches
the SVG is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape

__all__ = ["Band", "Series", "ecdf_chart", "line_chart", "nice_ticks"]

WIDTH = 720
HEIGHT = 300
MARGIN_LEFT = 60
MARGIN_RIGHT = 150
MARGIN_TOP = 30
MARGIN_BOTTOM = 45


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    colour: str
    points: Sequence[tuple[float, float]]
    dashed: bool = False
    #: x positions to mark with a tick under the plot (failures)
    marks: Sequence[float] = field(default=())


@dataclass(frozen=True, slots=True)
class Band:
    colour: str
    lower: Sequence[tuple[float, float]]
    upper: Sequence[tuple[float, float]]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high]."""
    if not math.isfinite(low) or not math.isfinite(high):
        return [0.0]
    if high <= low:
        high = low + 1.0
    raw = (high - low) / max(1, count)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks: list[float] = []
    value = first
    while value <= high + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    return ticks


class _Frame:
    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float]) -> None:
        self.x0, self.x1 = x_range
        self.y0, self.y1 = y_range
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0
        if self.y1 <= self.y0:
            self.y1 = self.y0 + 1.0
        self.left = MARGIN_LEFT
        self.right = WIDTH - MARGIN_RIGHT
        self.top = MARGIN_TOP
        self.bottom = HEIGHT - MARGIN_BOTTOM

    def x(self, value: float) -> float:
        return self.left + (value - self.x0) / (self.x1 - self.x0) * (self.right - self.left)

    def y(self, value: float) -> float:
        return self.bottom - (value - self.y0) / (self.y1 - self.y0) * (self.bottom - self.top)


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.0f}"
    return f"{value:.3g}"


def _axes(
    frame: _Frame,
    title: str,
    x_label: str,
    y_label: str,
    *,
    x_ticks: Sequence[float],
    y_ticks: Sequence[float],
) -> list[str]:
    out = [
        f'<text x="{WIDTH / 2:.0f}" y="18" text-anchor="middle" class="title">{escape(title)}</text>',
        f'<line x1="{frame.left}" y1="{frame.bottom}" x2="{frame.right}" y2="{frame.bottom}" class="axis"/>',
        f'<line x1="{frame.left}" y1="{frame.top}" x2="{frame.left}" y2="{frame.bottom}" class="axis"/>',
    ]
    for tick in x_ticks:
        if frame.x0 - 1e-9 <= tick <= frame.x1 + 1e-9:
            x = frame.x(tick)
            out.append(
                f'<line x1="{x:.1f}" y1="{frame.bottom}" x2="{x:.1f}" y2="{frame.bottom + 4}" class="axis"/>'
            )
            out.append(f'<text x="{x:.1f}" y="{frame.bottom + 16}" text-anchor="middle">{_fmt(tick)}</text>')
    for tick in y_ticks:
        if frame.y0 - 1e-9 <= tick <= frame.y1 + 1e-9:
            y = frame.y(tick)
            out.append(f'<line x1="{frame.left}" y1="{y:.1f}" x2="{frame.right}" y2="{y:.1f}" class="grid"/>')
            out.append(f'<text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end">{_fmt(tick)}</text>')
    out.append(
        f'<text x="{(frame.left + frame.right) / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle">{escape(x_label)}</text>'
    )
    out.append(
        f'<text x="14" y="{(frame.top + frame.bottom) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {(frame.top + frame.bottom) / 2:.0f})">{escape(y_label)}</text>'
    )
    return out


def _polyline(frame: _Frame, points: Sequence[tuple[float, float]], colour: str, dashed: bool) -> str:
    coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in points)
    dash = ' stroke-dasharray="6 4"' if dashed else ""
    return f'<polyline points="{coords}" fill="none" stroke="{escape(colour)}" stroke-width="2"{dash}/>'


def _legend(series: Sequence[Series], frame: _Frame) -> list[str]:
    out = []
    for number, item in enumerate(series):
        y = frame.top + 10 + number * 18
        x = frame.right + 12
        dash = ' stroke-dasharray="6 4"' if item.dashed else ""
        out.append(
            f'<line x1="{x}" y1="{y}" x2="{x + 20}" y2="{y}" stroke="{escape(item.colour)}" stroke-width="2"{dash}/>'
        )
        out.append(f'<text x="{x + 26}" y="{y + 4}">{escape(item.label)}</text>')
    return out


def _svg(body: list[str], description: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(description)}">' + "".join(body) + "</svg>"
    )


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    x_label: str,
    y_label: str,
    y_range: tuple[float, float] | None = None,
    bands: Sequence[Band] = (),
) -> str:
    """Lines over a shared x axis, with shaded bands and failure ticks under the plot."""
    xs = [x for s in series for x, _ in s.points] + [x for s in series for x in s.marks]
    ys = [y for s in series for _, y in s.points] + [y for b in bands for _, y in [*b.lower, *b.upper]]
    if not xs:
        return _svg(
            [f'<text x="{WIDTH / 2:.0f}" y="{HEIGHT / 2:.0f}" text-anchor="middle">no data</text>'], title
        )
    x_range = (min(xs), max(xs))
    low, high = y_range if y_range is not None else (min(ys), max(ys))
    frame = _Frame(x_range, (low, high))
    body = _axes(frame, title, x_label, y_label, x_ticks=nice_ticks(*x_range), y_ticks=nice_ticks(low, high))
    for band in bands:
        outline = [*band.upper, *reversed(band.lower)]
        coords = " ".join(f"{frame.x(x):.1f},{frame.y(y):.1f}" for x, y in outline)
        body.append(
            f'<polygon points="{coords}" fill="{escape(band.colour)}" fill-opacity="0.15" stroke="none"/>'
        )
    for row, item in enumerate(series):
        if item.points:
            body.append(_polyline(frame, item.points, item.colour, item.dashed))
        # Each series' ticks get their own row above the axis, so a launch failing on two paths shows both.
        low = frame.bottom - 12 * row
        for mark in item.marks:
            x = frame.x(mark)
            body.append(
                f'<line x1="{x:.1f}" y1="{low - 10}" x2="{x:.1f}" y2="{low}" '
                f'stroke="{escape(item.colour)}" stroke-width="2" class="mark"/>'
            )
    body += _legend(series, frame)
    return _svg(body, title)


def ecdf_chart(title: str, samples: Sequence[tuple[str, str, Sequence[float]]], *, x_label: str) -> str:
    """Empirical CDFs: for each (label, colour, values), the share of values at or below x."""
    series: list[Series] = []
    for label, colour, values in samples:
        ordered = sorted(values)
        if not ordered:
            continue
        n = len(ordered)
        points: list[tuple[float, float]] = [(ordered[0], 0.0)]
        for rank, value in enumerate(ordered, start=1):
            points.append((value, (rank - 1) / n))
            points.append((value, rank / n))
        series.append(Series(f"{label} (n={n})", colour, points))
    return line_chart(title, series, x_label=x_label, y_label="share of launches ≤ x", y_range=(0.0, 1.0))
