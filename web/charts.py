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


def _style(colors: tuple[str, ...]) -> Style:
    """Larger type than the dashboard's: these charts sit in half-width cards and on phones."""
    return Style(
        background="transparent",
        plot_background="transparent",
        colors=colors,
        font_family="system-ui, sans-serif",
        label_font_size=13,
        major_label_font_size=13,
        value_font_size=13,
        tooltip_font_size=13,
        legend_font_size=14,
    )


_SIZE_STYLE = _style(("#0d6efd",))
_MOVES_STYLE = _style(("#198754", "#dc3545"))  # entered green, left red
_COMPARE_STYLE = _style(("#0d6efd", "#6f42c1", "#fd7e14"))


def _chart_options(**overrides) -> dict:
    """Options every chart shares: offline (no script from a CDN), no XML declaration."""
    options = {
        "margin": 8,
        "js": [],
        "disable_xml_declaration": True,
        "truncate_label": -1,
        "show_y_guides": True,
    }
    return {**options, **overrides}


def _day_labels(days: list[dt.date]) -> tuple[list[str], int]:
    """Labels and how often to show one, so at most ~6 labels fit a phone."""
    every = max(1, (len(days) + 5) // 6)
    return [f"{day:%b} {day.day}" for day in days], every


def _count_ticks(highest: int) -> list[int]:
    """0 and whole-number steps (1, 2, 5, 10, 20, 50, ...) up to at least `highest`: at most
    about six ticks, and counts have no fractions."""
    if highest <= 0:
        return [0, 1]
    scale = 1
    while True:
        for base in (1, 2, 5):
            step = base * scale
            if highest / step <= 5:
                return list(range(0, highest + step, step))
        scale *= 10


def segment_size_svg(days: list[tuple[dt.date, int]]) -> str:
    """A segment's size at each day's last evaluation."""
    chart = pygal.Line(
        **_chart_options(
            style=_SIZE_STYLE,
            height=240,
            width=520,
            margin_right=28,  # room for the last day's label
            show_legend=False,
            show_minor_x_labels=False,
            fill=True,
            dots_size=2,
        )
    )
    labels, every = _day_labels([day for day, _ in days])
    chart.x_labels = labels
    chart.x_labels_major_every = every
    chart.y_labels = _count_ticks(max(size for _, size in days))
    chart.add("Contacts", [size for _, size in days])
    return chart.render(is_unicode=True)


def segment_moves_svg(days: list[tuple[dt.date, int, int]]) -> str:
    """Contacts entering and leaving a segment per day."""
    chart = pygal.Bar(
        **_chart_options(
            style=_MOVES_STYLE,
            height=240,
            width=520,
            margin_right=28,
            legend_at_bottom=True,
            show_minor_x_labels=False,
        )
    )
    labels, every = _day_labels([day for day, _, _ in days])
    chart.x_labels = labels
    chart.x_labels_major_every = every
    chart.y_labels = _count_ticks(max(max(entered, left) for _, entered, left in days))
    chart.add("Entered", [entered for _, entered, _ in days])
    chart.add("Left", [left for _, _, left in days])
    return chart.render(is_unicode=True)


def _percent_text(value: float) -> str:
    return "0" if not value else f"{value:.0f}%"  # pygal leaves out a printed "0" only


def _ratio_text(value: float) -> str:
    return "0" if not value else f"{value:.2f}"


def segments_compare_svg(
    names: list[str], series: list[tuple[str, list[float]]], *, percent: bool
) -> str:
    """One horizontal bar per segment and series ("Opened an email": [12.5, 40.0], ...),
    the first segment on top as in the table."""
    chart = pygal.HorizontalBar(
        **_chart_options(
            style=_COMPARE_STYLE,
            height=90 + 30 * len(names) * max(1, len(series)),
            width=520,
            legend_at_bottom=True,
            print_values=True,
            print_zeroes=False,
            value_formatter=_percent_text if percent else _ratio_text,
            range=(0, 100) if percent else None,
        )
    )
    # pygal draws the first label at the bottom.
    chart.x_labels = list(reversed(names))
    for title, values in series:
        chart.add(title, list(reversed(values)))
    return chart.render(is_unicode=True)
