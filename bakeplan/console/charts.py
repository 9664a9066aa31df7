"""The console's charts as geometry for server-rendered SVG: a saga's Gantt and a product's forecast band.

Pure: the timeline and the numbers come in, boxes, polylines and axis ticks (in SVG user units) go out;
the templates only draw them.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

GANTT_WIDTH = 900
GANTT_LABEL_WIDTH = 150
GANTT_ROW = 26
GANTT_RIGHT_MARGIN = 70
END_KINDS = {"step_done": "done", "step_failed": "failed", "deadline_passed": "timed out"}


@dataclass(frozen=True)
class Bar:
    label: str
    kind: str  # step | compensation
    outcome: str  # done | failed | timed out | compensated | open
    start_ms: float
    end_ms: float
    x: float
    width: float
    y: float

    @property
    def title(self) -> str:
        return (
            f"{self.label}: {self.outcome}, +{self.start_ms:.0f} ms → +{self.end_ms:.0f} ms ({self.duration_ms:.0f} ms)"
        )

    @property
    def duration_ms(self) -> float:
        return self.end_ms - self.start_ms


@dataclass(frozen=True)
class Gantt:
    bars: tuple[Bar, ...]
    total_ms: float
    height: float
    ticks: tuple[tuple[float, str], ...]  # (x, label)
    width: int = GANTT_WIDTH
    label_width: int = GANTT_LABEL_WIDTH
    row: int = GANTT_ROW


def _close(timeline: Sequence[dict[str, Any]], after: int, step: str, kinds: dict[str, str]) -> tuple[int, str] | None:
    for j in range(after + 1, len(timeline)):
        entry = timeline[j]
        if entry["step"] == step and entry["kind"] in kinds:
            return j, kinds[entry["kind"]]
    return None


def gantt(timeline: Sequence[dict[str, Any]], *, started: datetime, ended: datetime) -> Gantt:
    """One bar per step attempt (`RunStep` until its `step_done`, `step_failed` or `deadline_passed`) and
    per compensation (`CompensateStep` until its `step_compensated`); an unclosed bar runs to `ended`
    (now, for a saga still running). Times in ms since `started`."""
    total_ms = max((ended - started).total_seconds() * 1000, 1.0)
    scale = (GANTT_WIDTH - GANTT_LABEL_WIDTH - GANTT_RIGHT_MARGIN) / total_ms  # room for the last duration
    bars: list[Bar] = []
    for i, entry in enumerate(timeline):
        if entry["kind"] == "RunStep":
            kind, label, kinds = "step", str(entry["step"]), END_KINDS
        elif entry["kind"] == "CompensateStep":
            kind, label, kinds = "compensation", f"undo {entry['step']}", {"step_compensated": "compensated"}
        else:
            continue
        closed = _close(timeline, i, entry["step"], kinds)
        end_at, outcome = (timeline[closed[0]]["at"], closed[1]) if closed else (ended, "open")
        start_ms = (entry["at"] - started).total_seconds() * 1000
        end_ms = max((end_at - started).total_seconds() * 1000, start_ms)
        bars.append(
            Bar(
                label=label,
                kind=kind,
                outcome=outcome,
                start_ms=start_ms,
                end_ms=end_ms,
                x=GANTT_LABEL_WIDTH + start_ms * scale,
                width=max((end_ms - start_ms) * scale, 2.0),
                y=10 + len(bars) * GANTT_ROW,
            )
        )
    ticks = tuple((GANTT_LABEL_WIDTH + ms * scale, _ms_label(ms)) for ms in _nice_ticks(total_ms))
    return Gantt(tuple(bars), total_ms, 10 + len(bars) * GANTT_ROW + 30, ticks)


def _ms_label(ms: float) -> str:
    return f"{ms / 1000:g} s" if ms >= 1000 else f"{ms:.0f} ms"


def _nice_ticks(top: float, count: int = 5) -> list[float]:
    """Round tick values from 0 to at most `top` (1, 2 or 5 times a power of ten apart)."""
    if top <= 0:
        return [0.0]
    raw = top / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return [round(i * step, 10) for i in range(int(top / step) + 1)]


CHART_WIDTH = 900
CHART_HEIGHT = 300
CHART_LEFT = 50
CHART_BOTTOM = 30


@dataclass(frozen=True)
class ForecastChart:
    history: str  # polyline points
    forecast: str
    band: str  # polygon points: p90 forward, p10 back
    ticks_y: tuple[tuple[float, str], ...]
    ticks_x: tuple[tuple[float, str], ...]
    split_x: float | None  # where history ends and the plan starts
    width: int = CHART_WIDTH
    height: int = CHART_HEIGHT
    left: int = CHART_LEFT
    bottom: float = CHART_HEIGHT - CHART_BOTTOM


def forecast_chart(history: Sequence[tuple[date, float]], forecast: Sequence[dict[str, Any]]) -> ForecastChart:
    """`history`: (day, units sold); `forecast`: rows with `day`, `units`, `p10`, `p90` (a missing
    quantile is drawn at the point forecast). Days run left to right, one scale for both."""
    days = sorted({d for d, _ in history} | {f["day"] for f in forecast})
    if not days:
        return ForecastChart("", "", "", (), (), None)
    top = float(max([u for _, u in history] + [f["p90"] or f["units"] for f in forecast] + [1.0]))
    first, span = days[0], max((days[-1] - days[0]).days, 1)
    plot_w, plot_h = CHART_WIDTH - CHART_LEFT - 10, CHART_HEIGHT - CHART_BOTTOM - 10

    def x(day: date) -> float:
        return round(CHART_LEFT + (day - first).days / span * plot_w, 1)

    def y(units: float) -> float:
        return round(10 + plot_h - units / top * plot_h, 1)

    def points(pairs: Sequence[tuple[date, float]]) -> str:
        return " ".join(f"{x(d)},{y(u)}" for d, u in pairs)

    rows = sorted(forecast, key=lambda f: f["day"])
    upper = [(f["day"], f["p90"] if f["p90"] is not None else f["units"]) for f in rows]
    lower = [(f["day"], f["p10"] if f["p10"] is not None else f["units"]) for f in reversed(rows)]
    every = max(len(days) // 8, 1)
    return ForecastChart(
        history=points(sorted(history)),
        forecast=points([(f["day"], f["units"]) for f in rows]),
        band=points(upper + lower),
        ticks_y=tuple((y(v), f"{v:g}") for v in _nice_ticks(top)),
        ticks_x=tuple((x(d), f"{d:%d %b}") for d in days[::every]),
        split_x=x(rows[0]["day"]) if rows and history else None,
    )
