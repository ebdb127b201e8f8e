"""The usage page's chart: tokens per day as stacked bars, drawn as SVG on the server.

No chart library and no script: the CSP allows none inline, and a static SVG reads the same
on a phone. Sizes are in the SVG's own units; the page scales it to the width it has.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

__all__ = ["daily_series", "tokens_chart"]

WIDTH, HEIGHT = 720, 220
LEFT, BOTTOM, TOP = 56, 28, 12


def daily_series(rows: list[dict[str, Any]], since: date, until: date) -> list[dict[str, Any]]:
    """Return one entry per day from `since` to `until`, zero where nothing was metered."""
    by_day = {row["day"]: row for row in rows}
    days, day = [], since
    while day <= until:
        row = by_day.get(day, {})
        days.append({
            "day": day,
            "runs": int(row.get("runs") or 0),
            "input_tokens": int(row.get("input_tokens") or 0),
            "output_tokens": int(row.get("output_tokens") or 0),
        })  # fmt: skip
        day += timedelta(days=1)
    return days


def _nice_max(value: int) -> int:
    if value <= 0:
        return 10
    step: int = 10 ** (len(str(value)) - 1)
    return ((value + step - 1) // step) * step


def tokens_chart(days: list[dict[str, Any]]) -> SafeString:
    """Return the SVG of input (dark) and output (light) tokens per day, with a y scale."""
    top = _nice_max(max((int(d["input_tokens"] + d["output_tokens"]) for d in days), default=0))
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    slot = plot_w / max(len(days), 1)
    bar = max(slot * 0.7, 1.0)

    def y(tokens: int) -> float:
        return TOP + plot_h - plot_h * tokens / top

    bars = []
    for n, d in enumerate(days):
        x = LEFT + n * slot + (slot - bar) / 2
        total = d["input_tokens"] + d["output_tokens"]
        title = (
            f"{d['day']:%Y-%m-%d}: {d['input_tokens']} in, {d['output_tokens']} out, "
            f"{d['runs']} runs"
        )
        bars.append((_n(x), _n(y(d["input_tokens"])), _n(bar),
                     _n(plot_h * d["input_tokens"] / top), _n(y(total)),
                     _n(plot_h * d["output_tokens"] / top), title))  # fmt: skip
    rects = format_html_join(
        "",
        '<g><title>{}</title><rect class="bar-in" x="{}" y="{}" width="{}" '
        'height="{}"/><rect class="bar-out" x="{}" y="{}" width="{}" '
        'height="{}"/></g>',
        ((t, x, yi, w, hi, x, yt, w, ho) for x, yi, w, hi, yt, ho, t in bars),
    )
    ticks = format_html_join(
        "",
        '<line class="grid" x1="{}" x2="{}" y1="{}" y2="{}"/>'
        '<text class="tick" x="{}" y="{}">{}</text>',
        ((LEFT, WIDTH - 8, _n(y(v)), _n(y(v)), LEFT - 6, _n(y(v) + 4), _short(v))
         for v in (0, top // 2, top)),
    )  # fmt: skip
    every = max(len(days) // 6, 1)
    labels = format_html_join(
        "",
        '<text class="day" x="{}" y="{}">{}</text>',
        ((_n(LEFT + n * slot + slot / 2), HEIGHT - 8, f"{d['day']:%b %d}")
         for n, d in enumerate(days) if n % every == 0),
    )  # fmt: skip
    return format_html(
        '<svg class="usage-chart" viewBox="0 0 {} {}" role="img" '
        'aria-label="Tokens per day, input and output">{}{}{}</svg>',
        WIDTH, HEIGHT, ticks, rects, labels,
    )  # fmt: skip


def _n(value: float) -> str:
    """Format a coordinate (format_html escapes its arguments first, so no format specs)."""
    return f"{value:.1f}"


def _short(value: int) -> str:
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:g}{suffix}"
    return str(value)
