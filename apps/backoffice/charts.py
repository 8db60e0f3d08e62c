"""Charts drawn on the server as inline SVG: no script library, nothing fetched from a CDN, readable without
JavaScript, and the same markup whether the page is rendered or refreshed through the JSON endpoint."""

from collections.abc import Sequence
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 200, 48, 20, 10
COLOURS = {"submitted": "#417690", "delivered": "#2e7d32", "failed": "#c62828"}


def _n(value: float) -> str:
    return f"{value:.1f}"


def bar_chart(
    points: Sequence[dict[str, Any]], series: Sequence[str], labels: dict[str, Any], *, title: str
) -> SafeString:
    """Grouped bars: one group per point (an hour, a day), one bar per series. Each group links to the admin list of
    its messages (`point["url"]`) and has a tooltip with its figures."""
    peak = max([point[name] for point in points for name in series] + [1])
    plot_width, plot_height = WIDTH - LEFT, HEIGHT - BOTTOM - TOP
    group = plot_width / max(len(points), 1)
    bar = max(group * 0.8 / len(series), 1)
    groups = []
    for index, point in enumerate(points):
        x0 = LEFT + index * group + group * 0.1
        tooltip = point["title"] + "".join(f"\n{labels[name]}: {point[name]}" for name in series)
        bars = format_html_join(
            "",
            '<rect x="{}" y="{}" width="{}" height="{}" fill="{}"></rect>',
            (
                (
                    _n(x0 + offset * bar),
                    _n(TOP + plot_height - plot_height * point[name] / peak),
                    _n(bar),
                    _n(plot_height * point[name] / peak),
                    COLOURS.get(name, "#666"),
                )
                for offset, name in enumerate(series)
            ),
        )
        label = format_html(
            '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
            _n(x0 + group * 0.4),
            HEIGHT - 5,
            point["label"],
        )
        groups.append(
            format_html(
                '<a href="{}"><title>{}</title><rect x="{}" y="{}" width="{}" height="{}" fill="transparent">'
                "</rect>{}{}</a>",
                point["url"],
                tooltip,
                _n(x0),
                TOP,
                _n(group * 0.8),
                plot_height,
                bars,
                label,
            )
        )
    legend = format_html_join(
        "",
        '<rect x="{}" y="0" width="10" height="10" fill="{}"></rect><text x="{}" y="9" font-size="11">{}</text>',
        (
            (LEFT + 120 * i, COLOURS.get(name, "#666"), LEFT + 120 * i + 14, labels[name])
            for i, name in enumerate(series)
        ),
    )
    axis = format_html(
        '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
        '<text x="{}" y="{}" font-size="10" text-anchor="end">0</text>'
        '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"></line>',
        LEFT - 4,
        TOP + 10,
        peak,
        LEFT - 4,
        TOP + plot_height,
        LEFT,
        TOP + plot_height,
        WIDTH,
        TOP + plot_height,
    )
    return format_html(
        '<svg class="backoffice-chart" viewBox="0 -14 {} {}" role="img" aria-label="{}" '
        'xmlns="http://www.w3.org/2000/svg">{}{}{}</svg>',
        WIDTH,
        HEIGHT + 14,
        title,
        legend,
        axis,
        mark_safe("".join(groups)),  # noqa: S308 - every part was escaped by format_html above
    )
