"""Commands that plan without Kafka or Postgres: `plan`, `backtest`, `simulate` and `snapshot`.

They wrap the same pure planning code the workers run, so what they print is what the saga would
plan. Each reads its input, times the pure call, and prints a table or (with `--json`) one JSON
object on stdout; bad input exits 2 with a message naming the file, field or value to fix.
"""

import json
import re
import time
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any, cast, get_args
from uuid import UUID, uuid5

import typer
from pydantic import ValidationError
from rich.progress import Progress
from rich.table import Table

from bakeplan.cli.plan_tables import offline_rows, purchase_table
from bakeplan.cli.terminal import JsonFlag, console, err, fail, parse_day, print_json
from contracts.errors import PlanningError
from contracts.messages import SnapshotTaken
from contracts.planning import PlanningSnapshot
from lab.simulation import Policy, simulate
from lab.synthetic import PROFILES, Profile
from lab.tenants import seeded_tenant
from workers.chain import DailyPlan, plan_snapshot
from workers.forecasting.backtest import backtest as run_backtest
from workers.forecasting.backtest import parse_sales_csv

ISO_4217 = re.compile(r"^[A-Z]{3}$")
# Offline plans of a bare snapshot get a saga id derived from it, so the same file plans the same.
OFFLINE_NAMESPACE = UUID("2f0b7c4e-6a43-5d0e-9b1f-4c3e8a7d5b21")


def _read_text(path: Path, option: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        fail(f"{option} {str(path)!r}: cannot read it ({exc.strerror}); give the path of an existing file")


def _parse_day(value: str | None, option: str) -> date | None:
    return None if value is None else parse_day(value, option, example="2017-07-31")


def _validation_message(exc: ValidationError, source: str) -> str:
    problems = [
        f"  {'.'.join(str(part) for part in error['loc']) or '(top level)'}: {error['msg']}"
        for error in exc.errors()[:10]
    ]
    more = f"\n  … and {exc.error_count() - 10} more" if exc.error_count() > 10 else ""
    return f"{source} is not a valid planning snapshot:\n" + "\n".join(problems) + more


def load_snapshot(text: str, source: str) -> tuple[PlanningSnapshot, UUID]:
    """A snapshot file: a `PlanningSnapshot`, or a recorded `planning.snapshot_taken` message.

    A recorded message plans under its own saga id (so the result equals the saga's plan); a bare
    snapshot under `uuid5(OFFLINE_NAMESPACE, "{tenant_id}:{business_date}")`.
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{source} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    if isinstance(raw, dict) and raw.get("event_type") == "planning.snapshot_taken":
        try:
            message = SnapshotTaken.model_validate_json(text)
        except ValidationError as exc:
            fail(_validation_message(exc, source))
        assert message.saga_id is not None, "a recorded snapshot always names its saga"
        return message.snapshot, message.saga_id
    try:
        snapshot = PlanningSnapshot.model_validate_json(text)
    except ValidationError as exc:
        fail(_validation_message(exc, source))
    return snapshot, uuid5(OFFLINE_NAMESPACE, f"{snapshot.tenant_id}:{snapshot.business_date.isoformat()}")


def plan_as_json(plan: DailyPlan) -> dict[str, Any]:
    return {
        "forecast": [line.model_dump(mode="json") for line in plan.forecast],
        "batches": [batch.model_dump(mode="json") for batch in plan.batches],
        "requirements": [req.model_dump(mode="json") for req in plan.requirements],
        "purchase_lines": [line.model_dump(mode="json") for line in plan.purchase_lines],
    }


def plan(
    input_path: Annotated[
        Path, typer.Option("--input", help="A PlanningSnapshot JSON file (or a recorded snapshot_taken message).")
    ],
    currency: Annotated[
        str, typer.Option(help="ISO 4217 code of the snapshot's prices (a snapshot does not carry it).")
    ] = "EUR",
    as_json: JsonFlag = False,
) -> None:
    """Plan one snapshot offline: the same forecast, production and purchasing the workers do."""
    if not ISO_4217.match(currency):
        fail(f"--currency {currency!r} is not an ISO 4217 code: write three upper-case letters, e.g. EUR")
    snapshot, saga_id = load_snapshot(_read_text(input_path, "--input"), f"--input {str(input_path)!r}")
    started = time.perf_counter()
    try:
        result = plan_snapshot(snapshot, saga_id=saga_id)
    except PlanningError as exc:
        fail(f"tenant {snapshot.tenant_id!r}, {snapshot.business_date}: {exc}", code=1)
    seconds = time.perf_counter() - started
    batch_rows, line_rows = offline_rows(snapshot, result.batches, result.purchase_lines, currency=currency)
    if as_json:
        print_json(
            {
                "tenant_id": snapshot.tenant_id,
                "business_date": snapshot.business_date.isoformat(),
                "saga_id": str(saga_id),
                "currency": currency,
                **plan_as_json(result),
                "batches": batch_rows,
                "purchase_lines": line_rows,
                "seconds": round(seconds, 4),
            }
        )
        return
    console.print(
        f"[bold]{snapshot.tenant_id}[/bold] {snapshot.business_date}: {len(result.forecast)} forecast lines, "
        f"{len(result.batches)} batches, {len(result.purchase_lines)} purchase lines in {seconds * 1000:.0f} ms"
    )
    console.print(purchase_table(line_rows, currency=currency, status=False))


def _default_window(sales: Mapping[str, Mapping[date, float]], horizon: int) -> tuple[date, date]:
    """The last year of origins whose whole horizon has actuals, after at least 8 weeks of history."""
    days = [day for series in sales.values() for day in series]
    first, last = min(days), max(days)
    end = last - timedelta(days=horizon - 1)
    return max(first + timedelta(days=56), end - timedelta(days=364)), end


def backtest(
    sales_path: Annotated[Path, typer.Option("--sales", help="CSV with columns date,product,quantity.")],
    start: Annotated[str | None, typer.Option(help="First forecast origin (default: a year before --end).")] = None,
    end: Annotated[
        str | None, typer.Option(help="Last forecast origin (default: the last with a full horizon).")
    ] = None,
    horizon: Annotated[int, typer.Option(min=1, max=60, help="Days forecast from each origin.")] = 7,
    step: Annotated[int, typer.Option(min=1, help="Days between origins.")] = 1,
    as_json: JsonFlag = False,
) -> None:
    """Rolling-origin backtest of the forecast against the seasonal-naive baseline."""
    try:
        sales = parse_sales_csv(_read_text(sales_path, "--sales"))
    except ValueError as exc:
        fail(f"--sales {str(sales_path)!r}: {exc}")
    if not sales:
        fail(f"--sales {str(sales_path)!r} has no rows; it needs columns date,product,quantity and data")
    default_start, default_end = _default_window(sales, horizon)
    first = _parse_day(start, "--start") or default_start
    last = _parse_day(end, "--end") or default_end
    if first > last:
        fail(f"--start {first} is after --end {last}; give a start on or before the end")
    started = time.perf_counter()
    report = run_backtest(sales, start=first, end=last, horizon_days=horizon, step_days=step)
    seconds = time.perf_counter() - started
    result = {
        "relative_mae": report.relative_mae,
        "wape": report.wape,
        "baseline_wape": report.baseline_wape,
        "bias": report.bias,
        "coverage_80": report.coverage_80,
        "series": report.series,
        "forecasts": report.forecasts,
        "models": report.models,
        "start": first.isoformat(),
        "end": last.isoformat(),
        "horizon": horizon,
        "step": step,
        "seconds": round(seconds, 3),
    }
    if as_json:
        print_json(result)
        return
    table = Table("metric", "value")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def simulate_command(
    days: Annotated[int, typer.Option(min=1, max=3650, help="Days to simulate.")],
    policy: Annotated[str, typer.Option(help="bakeplan | minmax | reorder-level | perfect")],
    seed: Annotated[int, typer.Option(help="Random seed of the tenant, demand and lead times.")] = 1,
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    demand_path: Annotated[
        Path | None, typer.Option("--demand", help="CSV date,product,quantity: real demand to simulate on.")
    ] = None,
    slow_suppliers: Annotated[
        list[str] | None,
        typer.Option(
            "--slow-supplier",
            help="SUPPLIER_ID:DAYS: the supplier truly needs DAYS more than its master data says (repeatable).",
        ),
    ] = None,
    learn: Annotated[
        bool, typer.Option("--learn", help="The bakeplan policy learns lead times from receipts (docs/learning.md).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Simulate day by day: plan each morning, order, receive after random lead times, sell, expire."""
    if policy not in get_args(Policy):
        fail(f"--policy {policy!r} is unknown; use one of {', '.join(get_args(Policy))}")
    if profile not in PROFILES:
        fail(f"--profile {profile!r} is unknown; use one of {', '.join(PROFILES)}")
    demand = None
    if demand_path is not None:
        try:
            demand = parse_sales_csv(_read_text(demand_path, "--demand"))
        except ValueError as exc:
            fail(f"--demand {str(demand_path)!r}: {exc}")
    bias = _slow_suppliers(slow_suppliers or [])
    started = time.perf_counter()
    with Progress(console=err, transient=True, disable=as_json) as progress:
        task = progress.add_task(f"simulating {policy}", total=days)
        try:
            report = simulate(
                days=days,
                seed=seed,
                profile=_profile(profile),
                policy=_policy(policy),
                demand=demand,
                progress=lambda done: progress.update(task, completed=done),
                lead_time_bias_days=bias,
                learning=learn,
            )
        except ValueError as exc:
            fail(str(exc))
    result = {**vars(report), "seconds": round(time.perf_counter() - started, 2)}
    if as_json:
        print_json(result)
        return
    table = Table("metric", "value")
    for key, value in result.items():
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)


def _slow_suppliers(values: list[str]) -> dict[str, int]:
    """`--slow-supplier S003:2` values as supplier_id → extra days; exits 2 naming a malformed one."""
    bias: dict[str, int] = {}
    for value in values:
        supplier_id, _, days = value.rpartition(":")
        if not supplier_id or not days.lstrip("-").isdigit():
            fail(f"--slow-supplier {value!r}: write SUPPLIER_ID:DAYS, e.g. S003:2 (DAYS a whole number)")
        bias[supplier_id] = int(days)
    return bias


def _policy(value: str) -> Policy:
    """`value`, already checked against `Policy`'s names."""
    return cast(Policy, value)


def _profile(value: str) -> Profile:
    """`value`, already checked against `PROFILES`."""
    return cast(Profile, value)


def snapshot(
    out: Annotated[Path, typer.Option("--out", help="Where to write the snapshot JSON.")],
    profile: Annotated[str, typer.Option(help="small | standard | large")] = "standard",
    seed: Annotated[int, typer.Option(help="Random seed of the synthetic tenant.")] = 7,
    tenant: Annotated[str, typer.Option(help="Tenant id.")] = "synthetic-1",
    day: Annotated[str | None, typer.Option("--date", help="Business date (default 2026-05-04).")] = None,
    horizon: Annotated[int, typer.Option(min=1, max=60)] = 14,
    cold: Annotated[
        bool, typer.Option("--cold", help="Random stock and nothing on order (as `bakeplan seed --cold`).")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write a synthetic tenant's planning snapshot, to try `bakeplan plan --input` on.

    The tenant is the one `bakeplan seed` writes: started warm, unless `--cold`."""
    if profile not in PROFILES:
        fail(f"--profile {profile!r} is unknown; use one of {', '.join(PROFILES)}")
    business_date = _parse_day(day, "--date") or date(2026, 5, 4)
    data = seeded_tenant(tenant, profile=_profile(profile), seed=seed, today=business_date, components=True, cold=cold)
    result = data.planning_snapshot(business_date=business_date, horizon_days=horizon)
    out.write_text(result.model_dump_json(), encoding="utf-8")
    if as_json:
        print_json(
            {
                "out": str(out),
                "bytes": out.stat().st_size,
                "tenant_id": result.tenant_id,
                "business_date": result.business_date,
                "horizon_days": result.horizon_days,
                "products": len(result.products),
                "profile": profile,
                "seed": seed,
                "start": "cold" if cold else "warm",
            }
        )
    else:
        console.print(f"wrote {out} ({out.stat().st_size:,} bytes)")


def register(app: typer.Typer) -> None:
    app.command()(plan)
    app.command()(backtest)
    app.command("simulate")(simulate_command)
    app.command()(snapshot)
