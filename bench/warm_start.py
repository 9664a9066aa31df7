"""How late the first plan of a freshly seeded tenant is, started cold and warm, and what seeding costs.

    uv run python -m bench.warm_start                          # standard tenants, seeds 1-20
    uv run python -m bench.warm_start --profile small --seeds 1-5 --out /tmp/warm_start.json

For each seed it builds the tenant `bakeplan seed --seed S` writes first (`bakery-001`, dough
components, sales up to the day before `--today`) twice, with `lab.tenants.seeded_tenant(cold=True)`
and warm, timing each build, and plans its first day with `workers.chain.plan_snapshot` (what
`bakeplan plan` runs, under the same saga id for a bare snapshot, horizon 14). It prints per seed the
purchase lines and the late ones (`late`; their rule is `late_expedite`), then the late share over
all lines and the mean build time, wall clock and CPU of this process (the CPU time does not grow
when other processes share the machine). No Kafka or Postgres involved.
"""

import argparse
import json
import statistics
import time
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from uuid import uuid5

from bakeplan.cli.offline import OFFLINE_NAMESPACE
from lab.tenants import seeded_tenant
from workers.chain import plan_snapshot

TENANT = "bakery-001"
HORIZON_DAYS = 14


@dataclass(frozen=True)
class FirstPlan:
    seed: int
    start: str
    seconds: float
    cpu_seconds: float
    stock_lots: int
    open_orders: int
    lines: int
    late: int
    late_expedite: int


def first_plan(seed: int, *, profile: str, today: date, cold: bool) -> FirstPlan:
    started, cpu_started = time.perf_counter(), time.process_time()
    tenant = seeded_tenant(TENANT, profile=profile, seed=seed, today=today, components=True, cold=cold)  # type: ignore[arg-type]
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    snapshot = tenant.planning_snapshot(business_date=today, horizon_days=HORIZON_DAYS)
    plan = plan_snapshot(snapshot, saga_id=uuid5(OFFLINE_NAMESPACE, f"{TENANT}:{today.isoformat()}"))
    lines = plan.purchase_lines
    return FirstPlan(
        seed=seed,
        start="cold" if cold else "warm",
        seconds=round(seconds, 3),
        cpu_seconds=round(cpu_seconds, 3),
        stock_lots=len(tenant.stock_lots),
        open_orders=len(tenant.open_purchase_orders),
        lines=len(lines),
        late=sum(line.late for line in lines),
        late_expedite=sum(line.reasoning is not None and line.reasoning.rule == "late_expedite" for line in lines),
    )


def summary(plans: list[FirstPlan]) -> dict[str, float]:
    lines = sum(p.lines for p in plans)
    late = sum(p.late for p in plans)
    return {
        "lines": lines,
        "late": late,
        "late_share": round(late / lines, 4) if lines else 0.0,
        "worst_tenant_late_share": max((p.late / p.lines for p in plans if p.lines), default=0.0),
        "mean_seconds": round(statistics.mean(p.seconds for p in plans), 3),
        "max_seconds": max(p.seconds for p in plans),
        "mean_cpu_seconds": round(statistics.mean(p.cpu_seconds for p in plans), 3),
        "max_cpu_seconds": max(p.cpu_seconds for p in plans),
    }


def _seeds(text: str) -> list[int]:
    first, _, last = text.partition("-")
    return list(range(int(first), int(last or first) + 1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="standard", choices=("tiny", "small", "standard", "large"))
    parser.add_argument("--seeds", default="1-20", help="a seed or a range FIRST-LAST")
    parser.add_argument("--today", default="2026-05-04", help="the first plan's business date")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON")
    args = parser.parse_args()
    today = date.fromisoformat(args.today)

    seeded_tenant(TENANT, profile="tiny", seed=0, today=today)  # imports and numpy's first calls, not timed
    results: dict[str, list[FirstPlan]] = {"cold": [], "warm": []}
    print(f"{args.profile} tenants, first plan on {today}")
    print("seed | cold: lines  late  build s | warm: lines  late  build s  CPU s  lots  open orders")
    for seed in _seeds(args.seeds):
        cold = first_plan(seed, profile=args.profile, today=today, cold=True)
        warm = first_plan(seed, profile=args.profile, today=today, cold=False)
        results["cold"].append(cold)
        results["warm"].append(warm)
        print(
            f"{seed:4} | {cold.lines:11} {cold.late:5} {cold.seconds:8.3f} | {warm.lines:11} {warm.late:5} "
            f"{warm.seconds:8.3f} {warm.cpu_seconds:6.3f} {warm.stock_lots:5} {warm.open_orders:12}",
            flush=True,
        )
    totals = {start: summary(plans) for start, plans in results.items()}
    for start, figures in totals.items():
        print(
            f"{start}: {figures['late']} of {figures['lines']} lines late ({figures['late_share']:.1%}), "
            f"worst tenant {figures['worst_tenant_late_share']:.1%}; build per tenant {figures['mean_seconds']:.3f} s "
            f"(max {figures['max_seconds']:.3f}), CPU {figures['mean_cpu_seconds']:.3f} s "
            f"(max {figures['max_cpu_seconds']:.3f})"
        )
    if args.out is not None:
        document = {
            "profile": args.profile,
            "today": today.isoformat(),
            "summary": totals,
            "tenants": {start: [asdict(p) for p in plans] for start, plans in results.items()},
        }
        args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
