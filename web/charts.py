"""Charts as inline SVG, drawn by pygal (no JavaScript, nothing fetched from the network)."""

import datetime as dt

import pygal
from pygal.style import Style

_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#0d6efd", "#198754", "#dc3545"),
    font_family="system-ui, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    value_font_size=11,
    tooltip_font_size=12,
)


def events_per_day_svg(days: list[tuple[dt.date, int]]) -> str:
    chart = pygal.Bar(
        style=_STYLE,
        height=220,
        width=720,
        show_legend=False,
        show_y_guides=True,
        x_label_rotation=0,
        show_minor_x_labels=False,
        x_labels_major_every=7,
        truncate_label=-1,
        margin=8,
        js=[],  # pygal links its tooltip script from a CDN by default: none, work offline
        disable_xml_declaration=True,
        title=None,
    )
    chart.x_labels = [day.strftime("%b %-d") for day, _ in days]
    chart.add("Events", [count for _, count in days])
    return chart.render(is_unicode=True)
