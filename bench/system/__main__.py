"""Run the system benchmark: `uv run python -m bench.system [--quick] [--only idle,throughput,...]`."""

import argparse
import asyncio
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from bakeplan.migrate import upgrade
from bench.system import own, probes, scenarios
from bench.system.scenarios import Context
from infra.db import create_engine
from infra.settings import Settings
from lab.synthetic.tenant import Profile

SCENARIOS = ("idle", "throughput", "burst", "scaling")
EXTRA_SCENARIOS = ("growth", "large")
"""Run only when named in `--only` (docs/benchmarks.md, "Cost as work grows"); `large` is growth's burst
of large tenants alone (the orchestrator's peak memory)."""
GROWTH_SIZES: tuple[Profile, ...] = ("small", "standard", "large")
GROWTH_COUNTS = (100, 1000, 5000)
console = Console()


def _git_revision() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    configured = Settings()
    settings = own.bench_settings(configured)  # never the database and topics `make demo` uses
    if await own.ensure_database(configured, settings.database_url):
        console.print(f"made the benchmark's own database: {make_url(settings.database_url).database}")
    # the schema at its head first: a database from an older checkout would park every trigger
    await asyncio.to_thread(upgrade, settings)
    engine = create_engine(settings)
    run_id = datetime.now(UTC).strftime("%H%M%S")
    log_dir = Path(args.logs) / run_id
    log_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(settings, engine, run_id, log_dir, settings.topic_partitions, args.orchestrators, args.memray)
    statements = await probes.enable_statement_counts(engine)
    quick = args.quick
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(),
        "machine": probes.machine(),
        "git": _git_revision(),
        "statements_counted": statements,
        "quick": quick,
        "orchestrators": args.orchestrators,
        "worker_replicas": args.replicas,
    }
    try:
        if "idle" in args.only:
            console.print("[bold]idle latency[/]: one standard tenant at a time")
            results["idle"] = await scenarios.idle_latency(ctx, sagas_n=40 if quick else 200, profile="standard")
        tiny_tenants: list[str] = []
        if "throughput" in args.only or "scaling" in args.only:
            tiny_tenants = await scenarios.seed(ctx, f"b{run_id}-tiny", 300 if quick else 600, "tiny")
        if "throughput" in args.only:
            seconds = 20 if quick else 60
            console.print(f"[bold]throughput[/]: tiny tenants, {args.in_flight} sagas in flight for {seconds} s")
            capacity = await scenarios.capacity(
                ctx,
                tiny_tenants,
                (0, 10),
                in_flight=args.in_flight,
                seconds=seconds,
                replicas=args.replicas,
                flames=args.flames,
            )
            half = max(1.0, (capacity["completed_per_s"] or 2) / 2)
            console.print(f"[bold]latency at half of it[/]: {half:.0f}/s")
            at_half = await scenarios.throughput(
                ctx, tiny_tenants, (10, 15), rate=half, seconds=seconds / 2, replicas=args.replicas
            )
            results["throughput"] = {"capacity": capacity, "at_half_rate": at_half}
        if args.peers:
            results["peers"] = await _peers(ctx, args, results)
        if "burst" in args.only:
            n = 200 if quick else 1000
            console.print(f"[bold]morning burst[/]: {n} standard tenants at once")
            results["burst"] = await scenarios.burst(ctx, tenants_n=n, profile="standard", replicas=args.replicas)
        if "scaling" in args.only:
            results["scaling"] = []
            for i, replicas in enumerate((1, 2, 4)):
                console.print(f"[bold]scaling[/]: {replicas} replica(s) per worker")
                results["scaling"].append(
                    await scenarios.capacity(
                        ctx,
                        tiny_tenants,
                        (15 + 3 * i, 18 + 3 * i),
                        in_flight=args.in_flight,
                        seconds=10 if quick else 30,
                        replicas=replicas,
                    )
                )
        if "growth" in args.only:
            results["growth"] = await _growth(ctx, args)
        elif "large" in args.only:
            n = 10 if quick else 100
            console.print(f"[bold]large burst[/]: {n} large tenants at once")
            burst = await scenarios.burst(ctx, tenants_n=n, profile="large", replicas=args.replicas, name="glarge")
            results["growth"] = {"sizes": [burst], "counts": []}
    finally:
        await engine.dispose()
    return results


async def _growth(ctx: Context, args: argparse.Namespace) -> dict[str, Any]:
    """Cost per saga as work grows: a burst of tenants of each size (small, standard, large), then
    bursts of 100, 1,000 and 5,000 tiny tenants (a tenth with --quick). Flat in the count and linear
    in the size is what should come out; the per-saga CPU, commits and Kafka records say where not."""
    per_size = 10 if args.quick else 100
    sizes = []
    for profile in GROWTH_SIZES:
        console.print(f"[bold]growth[/]: {per_size} {profile} tenants at once")
        sizes.append(
            await scenarios.burst(ctx, tenants_n=per_size, profile=profile, replicas=args.replicas, name=f"g{profile}")
        )
    counts = []
    for n in GROWTH_COUNTS:
        n = n // 10 if args.quick else n
        console.print(f"[bold]growth[/]: {n} tiny tenants at once")
        counts.append(await scenarios.burst(ctx, tenants_n=n, profile="tiny", replicas=args.replicas, name=f"g{n}"))
    return {"sizes": sizes, "counts": counts}


async def _peers(ctx: Context, args: argparse.Namespace, results: dict[str, Any]) -> dict[str, Any]:
    """Right after bakeplan's throughput and idle scenarios, in the same session: bakeplan's tiny saga one at
    a time, then the same saga shape on DBOS Transact (bench/peers), and the ratios of the two. Absolute
    figures on a shared machine drift between runs; ratios taken minutes apart do much less."""
    console.print("[bold]sequential tiny sagas[/]: one tiny tenant's saga at a time")
    tiny_idle = await scenarios.idle_latency(ctx, sagas_n=30 if args.quick else 100, profile="tiny", name="tiny-idle")
    seconds = 20 if args.quick else 60
    console.print(f"[bold]peer[/]: DBOS Transact, the same 4 steps, 8 threads for {seconds} s")
    command = [
        *("uv", "run", "--group", "peers", sys.executable.rsplit("/", 1)[-1], "-m", "bench.peers.dbos_saga"),
        *("--database-url", ctx.settings.database_url, "--seconds", str(seconds)),
        *("--sequential", "30" if args.quick else "100"),
    ]
    done = await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"the DBOS peer failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}")
    peer = json.loads(done.stdout.strip().splitlines()[-1])
    ours = {"tiny_sequential_p50_ms": tiny_idle["trigger_to_completed"].get("p50_ms")}
    if tp := results.get("throughput"):
        ours["throughput_per_s"] = tp["capacity"]["completed_per_s"]
        ours["half_rate_p50_ms"] = tp["at_half_rate"]["trigger_to_completed"].get("p50_ms")
    if idle := results.get("idle"):
        ours["standard_idle_p50_ms"] = idle["trigger_to_completed"].get("p50_ms")
    theirs_p50, theirs_rate = peer["sequential"]["p50_ms"], peer["closed_loop"]["per_s"]
    ratios = {
        "throughput (bakeplan ÷ peer)": _ratio(ours.get("throughput_per_s"), theirs_rate),
        "sequential p50 (bakeplan tiny ÷ peer)": _ratio(ours["tiny_sequential_p50_ms"], theirs_p50),
        "tiny p50 at half the rate ÷ peer sequential p50": _ratio(ours.get("half_rate_p50_ms"), theirs_p50),
        "standard idle p50 ÷ peer p50": _ratio(ours.get("standard_idle_p50_ms"), theirs_p50),
    }
    return {"bakeplan": ours, "tiny_idle": tiny_idle, "dbos": peer, "ratios": ratios}


RATIO_TARGETS = {
    "throughput (bakeplan ÷ peer)": "≥ 1",
    "tiny p50 at half the rate ÷ peer sequential p50": "≤ 3",
}
"""Issue 18's targets that are ratios to the peer measured in the same run."""


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return round(ours / theirs, 2) if ours and theirs else None


def report(results: dict[str, Any]) -> None:
    table = Table(title="bakeplan system benchmark")
    for column in ("measure", "result", "target"):
        table.add_column(column)
    if idle := results.get("idle"):
        total = idle["trigger_to_completed"]
        table.add_row("idle latency p50 / p99", f"{total.get('p50_ms')} / {total.get('p99_ms')} ms", "≤ 150 / ≤ 300 ms")
        for part, s in idle["parts"].items():
            table.add_row(f"  {part} p50 / p99", f"{s.get('p50_ms')} / {s.get('p99_ms')} ms", "")
    if tp := results.get("throughput"):
        cap, half = tp["capacity"], tp["at_half_rate"]
        table.add_row(
            "overhead throughput",
            f"{cap['completed_per_s']} sagas/s ({cap['in_flight']} in flight, {cap['window_s']} s)",
            "≥ the peer's (ratio below)",
        )
        lat = half["trigger_to_completed"]
        table.add_row(
            f"  latency at {half['offered_per_s']}/s p50 / p99", f"{lat.get('p50_ms')} / {lat.get('p99_ms')} ms", ""
        )
        c = cap["cost_per_saga"]
        table.add_row(
            "  Kafka records / bytes per saga", f"{c['kafka_records']['total']} / {c['kafka_bytes']['total']}", ""
        )
        table.add_row("  Postgres commits per saga", f"{c['postgres'].get('xact_commit')}", "")
        table.add_row("  statements per saga", f"{c['postgres'].get('statements', 'n/a')}", "")
        table.add_row("  CPU s per saga (bakeplan processes)", f"{round(sum(c['cpu_s'].values()), 4)}", "")
        table.add_row(
            "  CPU s per saga (Postgres / Kafka)",
            f"{c['server_cpu_s'].get('postgres')} / {c['server_cpu_s'].get('kafka')}",
            "",
        )
    if b := results.get("burst"):
        table.add_row(f"morning burst, {b['tenants']} standard tenants", f"{b['seconds']} s", "1,000 in ≤ 90 s")
        table.add_row(
            "  overhead ratio (system ÷ pure planners)",
            f"{b['overhead_ratio']} ({b['pure_planning_seconds']} s pure)",
            "≤ 1.5",
        )
        peak = max(v["peak_rss_mb"] for v in b["cost_per_saga"]["processes"].values())
        table.add_row("  peak RSS of any process", f"{peak} MB", "≤ 250 MB")
    if peers := results.get("peers"):
        dbos = peers["dbos"]
        table.add_row(
            "peer: DBOS Transact, 4 steps",
            f"{dbos['closed_loop']['per_s']} workflows/s ({dbos['closed_loop']['threads']} threads); "
            f"sequential p50 / p99 {dbos['sequential']['p50_ms']} / {dbos['sequential']['p99_ms']} ms",
            "",
        )
        table.add_row("  bakeplan tiny saga, sequential p50", f"{peers['bakeplan']['tiny_sequential_p50_ms']} ms", "")
        for name, value in peers["ratios"].items():
            table.add_row(f"  ratio: {name}", f"{value}", RATIO_TARGETS.get(name, ""))
    for s in results.get("scaling", []):
        table.add_row(
            f"scaling: {s['replicas']} replica(s), {s['partitions']} partitions", f"{s['completed_per_s']} sagas/s", ""
        )
    if growth := results.get("growth"):
        for g in growth["sizes"] + growth["counts"]:
            c = g["cost_per_saga"]
            table.add_row(
                f"growth: {g['tenants']} {g['profile']} tenants",
                f"{g['seconds']} s; per saga CPU {round(sum(c['cpu_s'].values()), 4)} s, "
                f"{c['postgres'].get('xact_commit')} commits, {c['kafka_records'].get('total')} records; "
                f"overhead ratio {g['overhead_ratio']}",
                "",
            )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller counts (a few minutes)")
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma list of {', '.join(SCENARIOS + EXTRA_SCENARIOS)} (growth and large only when named)",
    )
    parser.add_argument("--in-flight", type=int, default=64, help="sagas kept running when finding the capacity")
    parser.add_argument("--replicas", type=int, default=2, help="replicas per worker role (scaling tries 1, 2, 4)")
    parser.add_argument("--orchestrators", type=int, default=1, help="orchestrator replicas in every scenario")
    parser.add_argument("--peers", action="store_true", help="also run the saga shape on DBOS Transact (bench/peers)")
    parser.add_argument(
        "--flames",
        type=Path,
        default=None,
        help="py-spy flame graphs of every process over the throughput window, into this directory (make bench-flames)",
    )
    parser.add_argument(
        "--memray",
        type=Path,
        default=None,
        help="run every process under memray, a capture file per process into this directory (peak RSS grows with it)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench/results/system.json"))
    parser.add_argument("--logs", default=".bakeplan-local/bench-logs")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    start = time.monotonic()
    results = asyncio.run(run(args))
    results["wall_s"] = round(time.monotonic() - start, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    report(results)
    console.print(f"wrote {args.out} in {results['wall_s']} s")


if __name__ == "__main__":
    main()
