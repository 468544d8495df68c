"""The per-minute chart's geometry."""

from __future__ import annotations

from bridge.web.admin.chart import HEIGHT, WIDTH, build

FIRST = 29_000_040  # a minute number (unix seconds // 60): 2025-02-19 22:00 UTC


def test_chart_scales_to_a_round_top_and_counts() -> None:
    chart = build(FIRST, 120, {("received", "received"): {FIRST: 3, FIRST + 61: 7},
                               ("delivered", "delivered"): {FIRST + 1: 12}})
    assert chart.top == 20
    received, delivered = chart.series
    assert (received.total, received.peak, delivered.total, delivered.peak) == (10, 7, 12, 12)
    points = [tuple(map(float, p.split(","))) for p in received.points.split()]
    assert len(points) == 120 and points[0] == (0.0, HEIGHT - 3 * HEIGHT / 20) and points[-1][0] == WIDTH
    assert chart.hours == (("22:00", (3, 12)), ("23:00", (7, 0)))


def test_chart_of_nothing_is_flat() -> None:
    chart = build(FIRST, 1440, {("received", "received"): {}})
    assert chart.top == 1 and chart.series[0].total == 0
    assert {p.split(",")[1] for p in chart.series[0].points.split()} == {f"{HEIGHT:.1f}"}
    assert chart.x_labels == ("24 h ago", "18 h ago", "12 h ago", "6 h ago", "now")


def test_chart_ignores_minutes_outside_its_window() -> None:
    chart = build(FIRST, 60, {("received", "received"): {FIRST - 1: 500, FIRST + 60: 500, FIRST + 5: 2}})
    assert chart.series[0].total == 2 and chart.top == 2


def test_chart_hours_follow_the_clock() -> None:
    chart = build(FIRST + 30, 60, {("received", "received"): {FIRST + 29: 9, FIRST + 30: 1, FIRST + 89: 4}})
    assert chart.hours == (("22:00", (1,)), ("23:00", (4,)))
