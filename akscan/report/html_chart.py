"""A small inline SVG bar chart: when the credentials of a history scan were introduced.

One bar per month (per day when everything happened within two months, per year past ten
years), live credentials stacked in red at the bottom of their bar. No library: a few rects.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from html import escape

from akscan.model import LIVE
from akscan.report.credentials import Credential

_WIDTH, _HEIGHT, _PAD = 720, 140, 24


def introduced_chart(credentials: Sequence[Credential]) -> str:
    """The chart's SVG, or '' when no credential has a commit date (a scan of files)."""
    points: list[tuple[date, bool]] = []
    for credential in credentials:
        first = credential.introduced
        if first is None:
            continue
        day = _day(dict(first.origin)["date"])
        if day is not None:
            points.append((day, credential.status == LIVE))
    if not points:
        return ""
    start, end = min(p[0] for p in points), max(p[0] for p in points)
    span = (end - start).days
    unit = "day" if span <= 62 else "month" if span <= 3660 else "year"
    buckets = _buckets(start, end, unit)
    index = {label: i for i, label in enumerate(buckets)}
    total = [0] * len(buckets)
    live = [0] * len(buckets)
    for day, is_live in points:
        i = index[_label(day, unit)]
        total[i] += 1
        live[i] += is_live
    top = max(total)
    step = (_WIDTH - 2 * _PAD) / len(buckets)
    bar = min(max(step * 0.8, 1.0), 36.0)
    scale = (_HEIGHT - 2 * _PAD) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {_HEIGHT}" '
             f'width="{_WIDTH}" height="{_HEIGHT}" role="img" aria-labelledby="chart-title">',
             f'<title id="chart-title">Credentials introduced per {unit}, {len(points)} in '
             f'all, {sum(live)} live</title>',
             f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" '
             f'y2="{_HEIGHT - _PAD}" stroke="#999"/>']
    for i, label in enumerate(buckets):
        if not total[i]:
            continue
        x = _PAD + i * step + (step - bar) / 2
        height = total[i] * scale
        live_height = live[i] * scale
        tip = escape(f"{label}: {total[i]} introduced, {live[i]} live")
        parts.append(f'<g class="bar"><title>{tip}</title>'
                     f'<rect x="{x:.1f}" y="{_HEIGHT - _PAD - height:.1f}" width="{bar:.1f}" '
                     f'height="{height - live_height:.1f}" fill="#607d8b"/>')
        if live[i]:
            parts.append(f'<rect x="{x:.1f}" y="{_HEIGHT - _PAD - live_height:.1f}" '
                         f'width="{bar:.1f}" height="{live_height:.1f}" fill="#c62828"/>')
        parts.append("</g>")
    for i in sorted({0, len(buckets) - 1}):
        anchor = "start" if i == 0 else "end"
        x = _PAD if i == 0 else _WIDTH - _PAD
        parts.append(f'<text x="{x}" y="{_HEIGHT - 6}" font-size="11" text-anchor="{anchor}" '
                     f'fill="#555">{escape(buckets[i])}</text>')
    parts.append(f'<text x="{_PAD}" y="{_PAD - 8}" font-size="11" fill="#555">{top} per '
                 f'{unit} at most</text></svg>')
    return "".join(parts)


def _day(stamp: str) -> date | None:
    try:
        return date.fromisoformat(stamp[:10])
    except ValueError:
        return None


def _label(day: date, unit: str) -> str:
    if unit == "day":
        return day.isoformat()
    return f"{day.year:04d}-{day.month:02d}" if unit == "month" else f"{day.year:04d}"


def _buckets(start: date, end: date, unit: str) -> list[str]:
    if unit == "day":
        return [date.fromordinal(n).isoformat()
                for n in range(start.toordinal(), end.toordinal() + 1)]
    if unit == "year":
        return [f"{y:04d}" for y in range(start.year, end.year + 1)]
    months = (end.year - start.year) * 12 + end.month - start.month
    return [f"{(start.month - 1 + m) // 12 + start.year:04d}-{(start.month - 1 + m) % 12 + 1:02d}"
            for m in range(months + 1)]
