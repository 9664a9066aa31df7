"""bakeplan's daily saga shape on DBOS Transact: snapshot → forecast → production → procurement, each a
durable step checkpointed in Postgres, with tiny work, so what is timed is the engine's own overhead.

Run by `python -m bench.system --peers` in its own environment (`uv run --group peers`), against a
database of its own on the server bakeplan uses. Prints one JSON object:
- `closed_loop`: `threads` threads each start a workflow and wait for it, for `seconds`; workflows/s;
- `sequential`: one workflow at a time, `sequential` times; latency percentiles.

    uv run --group peers python -m bench.peers.dbos_saga --database-url postgresql://bakeplan@127.0.0.1:55432/x
"""

import argparse
import hashlib
import json
import statistics
import sys
import threading
import time
from typing import Any

import psycopg
from dbos import DBOS, DBOSConfig
from psycopg import sql


def _tiny(stage: str, tenant: str, day: int, previous: str) -> str:
    """The step's work: a hash of its inputs, as small as bakeplan's `tiny` tenant's planning."""
    return hashlib.sha256(f"{stage}|{tenant}|{day}|{previous}".encode()).hexdigest()


@DBOS.step()
def snapshot(tenant: str, day: int) -> str:
    return _tiny("snapshot", tenant, day, "")


@DBOS.step()
def forecast(tenant: str, day: int, snapshot_sha: str) -> str:
    return _tiny("forecast", tenant, day, snapshot_sha)


@DBOS.step()
def production(tenant: str, day: int, forecast_sha: str) -> str:
    return _tiny("production", tenant, day, forecast_sha)


@DBOS.step()
def procurement(tenant: str, day: int, production_sha: str) -> str:
    return _tiny("procurement", tenant, day, production_sha)


@DBOS.workflow()
def daily_plan(tenant: str, day: int) -> str:
    taken = snapshot(tenant, day)
    forecasted = forecast(tenant, day, taken)
    produced = production(tenant, day, forecasted)
    return procurement(tenant, day, produced)


def _percentiles(values_ms: list[float]) -> dict[str, float]:
    ordered = sorted(values_ms)
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {"n": len(ordered), "p50_ms": round(cuts[49], 1), "p99_ms": round(cuts[98], 1)}


def closed_loop(threads: int, seconds: float) -> dict[str, Any]:
    done = [0] * threads
    stop_at = time.monotonic() + seconds

    def loop(i: int) -> None:
        day = 0
        while time.monotonic() < stop_at:
            daily_plan(f"peer-{i}", day)
            day += 1
            done[i] += 1

    started = time.monotonic()
    workers = [threading.Thread(target=loop, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.monotonic() - started
    return {
        "threads": threads,
        "window_s": round(elapsed, 1),
        "workflows": sum(done),
        "per_s": round(sum(done) / elapsed, 1),
    }


def sequential(n: int) -> dict[str, Any]:
    latencies = []
    for day in range(n):
        started = time.perf_counter()
        daily_plan("peer-sequential", day)
        latencies.append((time.perf_counter() - started) * 1000)
    return _percentiles(latencies)


def _fresh_database(server_url: str, name: str) -> str:
    """Drops and creates `name` on the server of `server_url`; returns its URL. The peer never shares
    bakeplan's database: only its server, so both pay the same commit costs."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    base, _, _ = server_url.rpartition("/")
    return f"{base}/{name}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="a Postgres URL on the server to use (any database)")
    parser.add_argument("--database", default="bakeplan_peer_dbos", help="the peer's own database, recreated")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--sequential", type=int, default=100)
    args = parser.parse_args()
    url = _fresh_database(args.database_url.replace("postgresql+asyncpg://", "postgresql://"), args.database)
    config: DBOSConfig = {"name": "bakeplan-peer", "system_database_url": url, "log_level": "WARNING"}
    DBOS(config=config)
    DBOS.launch()
    try:
        daily_plan("peer-warmup", 0)
        result = {
            "engine": "DBOS Transact",
            "steps": 4,
            "sequential": sequential(args.sequential),
            "closed_loop": closed_loop(args.threads, args.seconds),
        }
    finally:
        DBOS.destroy()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
