"""How long one full daily plan takes on one core: forecast, production and purchasing of one tenant.

    uv run python bench/plan_speed.py --profile large --runs 7 [--out results.json]

Generates a synthetic tenant as `bakeplan seed` does (`lab.tenants`: started warm), builds its
planning snapshot, and times `workers.chain.plan_snapshot` (the same pure code the three workers
run) `--runs` times after one untimed run. Prints the median and the per-step medians; no Kafka or Postgres involved.
"""

import argparse
import json
import statistics
import time
from datetime import date
from pathlib import Path
from uuid import UUID

from lab.tenants import seeded_tenant
from workers.chain import plan_snapshot
from workers.forecasting.planner import forecast_demand
from workers.procurement.replenishment import plan_purchases
from workers.production.scheduler import schedule_production

SAGA = UUID("8d7f0a52-55f3-4c1e-9b61-0c2b8f3e9a10")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default="large", choices=("small", "standard", "large"))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    today = date(2026, 5, 4)
    tenant = seeded_tenant("bench", profile=args.profile, seed=args.seed, today=today, components=True)
    snapshot = tenant.planning_snapshot(business_date=today, horizon_days=14)

    plan_snapshot(snapshot, saga_id=SAGA)  # warm-up: imports, numpy first calls
    totals: list[float] = []
    steps: dict[str, list[float]] = {"forecast": [], "production": [], "procurement": []}
    for _ in range(args.runs):
        started = time.perf_counter()
        forecast = forecast_demand(
            snapshot.products,
            snapshot.sales,
            snapshot.calendar,
            business_date=today,
            horizon_days=14,
            regressors=snapshot.regressors,
        )
        forecast_done = time.perf_counter()
        production = schedule_production(
            SAGA,
            snapshot.products,
            snapshot.recipes,
            forecast,
            snapshot.calendar,
            business_date=today,
            components=snapshot.components,
            capacity=snapshot.capacity,
        )
        production_done = time.perf_counter()
        lines = plan_purchases(
            SAGA,
            snapshot.ingredients,
            snapshot.stock_lots,
            snapshot.suppliers,
            production.requirements,
            business_date=today,
            open_orders=snapshot.open_purchase_orders,
            policy=snapshot.policy,
            calendar=snapshot.calendar,
        )
        done = time.perf_counter()
        totals.append(done - started)
        steps["forecast"].append(forecast_done - started)
        steps["production"].append(production_done - forecast_done)
        steps["procurement"].append(done - production_done)

    result = {
        "profile": args.profile,
        "products": len(snapshot.products),
        "ingredients": len(snapshot.ingredients),
        "suppliers": len(snapshot.suppliers),
        "history_days": max(len(s.daily_units) for s in snapshot.sales),
        "runs": args.runs,
        "median_seconds": round(statistics.median(totals), 4),
        "min_seconds": round(min(totals), 4),
        "max_seconds": round(max(totals), 4),
        "step_median_seconds": {k: round(statistics.median(v), 4) for k, v in steps.items()},
        "forecast_lines": len(forecast),
        "batches": len(production.batches),
        "purchase_lines": len(lines),
    }
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
