"""The pilot report's chart is drawn once per set of figures: reloading the report of the
same figures reuses it (drawing is most of the report's time), new figures draw a new one."""

from __future__ import annotations

from lastmile.analytics import report


def test_same_figures_same_chart_drawn_once() -> None:
    report._chart_svg.cache_clear()
    on_time = ("On time", "rate", 0.82, 0.91, True, ((0.9, True),))
    cost = ("Cost per delivery", "money", 4.1, 3.6, True, ())
    first = report._chart_svg((on_time, cost))
    again = report._chart_svg((on_time, cost))
    assert again is first and first.startswith("<svg")
    assert report._chart_svg.cache_info().misses == 1
    worse = ("On time", "rate", 0.82, 0.71, False, ((0.9, False),))
    other = report._chart_svg((worse, cost))
    assert other != first and report._chart_svg.cache_info().misses == 2
