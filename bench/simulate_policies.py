"""Benchmark: the four purchasing policies on synthetic tenants (and optionally on real sales), side by side.

    uv run python bench/simulate_policies.py                         # standard profile, 365 days, seeds 1-3
    uv run python bench/simulate_policies.py --demand /work/shared/data/kiel-bakery/sales_2013-07_2017-07.csv
    uv run python bench/simulate_policies.py --jobs 4 --out /tmp/policies   # writes /tmp/policies.{json,md}

Each run is timed on its own (one process per run with --jobs > 1). The markdown table ends with
the targets: bakeplan fill_rate >= 0.98, waste_rate <= 0.02 and total_cost <= 0.8 x minmax's.
The sales file is read from its path, never copied.
"""

import argparse
import json
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any, get_args

from lab.simulation import Policy, SimulationReport, simulate
from workers.forecasting.backtest import parse_sales_csv

COLUMNS = (
    "fill_rate",
    "cycle_service_level",
    "stockout_days",
    "waste_rate",
    "waste_value",
    "avg_inventory_value",
    "ordering_cost",
    "holding_cost",
    "lost_sales_value",
    "total_cost",
    "orders",
    "seconds",
)

RATES = {"fill_rate", "cycle_service_level", "waste_rate"}


def timed_run(days: int, seed: int, profile: str, policy: str, demand_path: str | None) -> dict[str, Any]:
    demand: dict[str, dict[date, float]] | None = None
    if demand_path is not None:
        demand = parse_sales_csv(Path(demand_path).read_text(encoding="utf-8"))
    started = time.perf_counter()
    report: SimulationReport = simulate(
        days=days,
        seed=seed,
        profile=profile,  # type: ignore[arg-type]
        policy=policy,  # type: ignore[arg-type]
        demand=demand,
    )
    return {**asdict(report), "demand": demand_path, "seconds": round(time.perf_counter() - started, 1)}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| data | seed | policy | " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * (len(COLUMNS) + 3),
    ]
    for row in results:
        data = "real sales" if row["demand"] else row["profile"]
        cells = [f"{row[c]:.4f}" if c in RATES else str(row[c]) for c in COLUMNS]
        lines.append(f"| {data} | {row['seed']} | {row['policy']} | " + " | ".join(cells) + " |")
    lines += ["", "Targets (bakeplan): fill_rate >= 0.98, waste_rate <= 0.02, total_cost <= 0.8 x minmax", ""]
    groups: dict[tuple[object, int], dict[str, dict[str, Any]]] = {}
    for row in results:
        groups.setdefault((row["demand"], row["seed"]), {})[row["policy"]] = row
    for (demand, seed), by_policy in groups.items():
        if "bakeplan" not in by_policy or "minmax" not in by_policy:
            continue
        ours, minmax = by_policy["bakeplan"], by_policy["minmax"]
        ratio = ours["total_cost"] / minmax["total_cost"] if minmax["total_cost"] else float("nan")
        lines.append(
            f"- {'real sales' if demand else 'synthetic'} seed {seed}: fill {ours['fill_rate']:.4f}"
            f" ({'ok' if ours['fill_rate'] >= 0.98 else 'MISSED'}), waste {ours['waste_rate']:.4f}"
            f" ({'ok' if ours['waste_rate'] <= 0.02 else 'MISSED'}), cost / minmax {ratio:.3f}"
            f" ({'ok' if ratio <= 0.8 else 'MISSED'})"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--profile", default="standard", choices=["small", "standard", "large"])
    parser.add_argument("--seeds", default="1,2,3", help="comma-separated seeds of the synthetic runs")
    parser.add_argument("--policies", default=",".join(get_args(Policy)))
    parser.add_argument("--demand", help="CSV date,product,quantity: also run every policy once on it (seed 1)")
    parser.add_argument("--only-demand", action="store_true", help="skip the synthetic runs")
    parser.add_argument("--jobs", type=int, default=1, help="runs in parallel (each timed in its own process)")
    parser.add_argument("--out", default="simulate_policies", help="writes OUT.json and OUT.md")
    args = parser.parse_args()

    policies = args.policies.split(",")
    grid: list[tuple[int, int, str, str, str | None]] = []
    if not args.only_demand:
        grid += [(args.days, int(seed), args.profile, p, None) for seed in args.seeds.split(",") for p in policies]
    if args.demand:
        grid += [(args.days, 1, args.profile, p, args.demand) for p in policies]
    with ProcessPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(timed_run, *zip(*grid, strict=True)))
    Path(f"{args.out}.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    table = markdown(results)
    Path(f"{args.out}.md").write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
