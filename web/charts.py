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


_MOVES_STYLE = Style(
    background="transparent",
    plot_background="transparent",
    colors=("#198754", "#dc3545"),  # entered green, left red
    font_family="system-ui, sans-serif",
    label_font_size=11,
    major_label_font_size=11,
    value_font_size=11,
    tooltip_font_size=12,
    legend_font_size=12,
)


def _chart_options(**overrides) -> dict:
    """Options every chart shares: offline (no script from a CDN), no XML declaration."""
    options = {
        "style": _STYLE,
        "margin": 8,
        "js": [],
        "disable_xml_declaration": True,
        "truncate_label": -1,
        "show_y_guides": True,
    }
    return {**options, **overrides}


def _day_labels(days: list[dt.date]) -> tuple[list[str], int]:
    """Labels and how often to show one, so at most ~8 labels fit any width."""
    every = max(1, (len(days) + 7) // 8)
    return [f"{day:%b} {day.day}" for day in days], every


def segment_size_svg(days: list[tuple[dt.date, int]]) -> str:
    """A segment's size at each day's last evaluation."""
    chart = pygal.Line(
        **_chart_options(
            height=220,
            width=720,
            show_legend=False,
            show_minor_x_labels=False,
            fill=True,
            dots_size=2,
        )
    )
    labels, every = _day_labels([day for day, _ in days])
    chart.x_labels = labels
    chart.x_labels_major_every = every
    chart.add("Contacts", [size for _, size in days])
    return chart.render(is_unicode=True)


def segment_moves_svg(days: list[tuple[dt.date, int, int]]) -> str:
    """Contacts entering and leaving a segment per day."""
    chart = pygal.Bar(
        **_chart_options(
            style=_MOVES_STYLE,
            height=220,
            width=720,
            legend_at_bottom=True,
            show_minor_x_labels=False,
        )
    )
    labels, every = _day_labels([day for day, _, _ in days])
    chart.x_labels = labels
    chart.x_labels_major_every = every
    chart.add("Entered", [entered for _, entered, _ in days])
    chart.add("Left", [left for _, _, left in days])
    return chart.render(is_unicode=True)


def segments_compare_svg(
    names: list[str], series: list[tuple[str, list[float]]], *, percent: bool
) -> str:
    """One horizontal bar per segment and series ("Opened an email": [12.5, 40.0], ...)."""
    chart = pygal.HorizontalBar(
        **_chart_options(
            height=110 + 34 * len(names) * max(1, len(series)),
            width=720,
            legend_at_bottom=True,
            print_values=True,
            value_formatter=(lambda v: f"{v:.0f}%") if percent else (lambda v: f"{v:.2f}"),
            range=(0, 100) if percent else None,
        )
    )
    chart.x_labels = names
    for title, values in series:
        chart.add(title, values)
    return chart.render(is_unicode=True)
