"""The scenarios of the system benchmark. Each starts its own set of processes (so peak memory is
the scenario's), seeds its own tenants under a unique prefix, and returns a JSON-able result."""

import asyncio
import dataclasses
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from bakeplan.acl_table import Principal
from bench.system import probes
from contracts.ids import saga_id_for_trigger
from contracts.messages import PlanningRequested
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings
from lab.seed import write_tenant
from lab.synthetic import Profile
from lab.tenants import seeded_tenant
from orchestrator.ports import TERMINAL_STATUSES
from orchestrator.tables import sagas
from tests.e2e.processes import ROLES, Processes

TODAY = date(2026, 11, 28)
Job = tuple[str, date]  # (tenant, business date)


@dataclasses.dataclass
class Context:
    settings: Settings
    engine: AsyncEngine
    run_id: str
    log_dir: Path
    partitions: int
    orchestrators: int = 1
    memray: Path | None = None
    """Run every process under memray, one capture file per process in this directory (`--memray`)."""
    fleets: int = 0


class Fleet:
    """Every role as its own OS process (`bakeplan serve --role R`), `replicas` per worker role."""

    def __init__(self, ctx: Context, *, replicas: int, warm: Profile) -> None:
        """`warm`: the profile of the tenants of the warm-up sagas (`warm_up`)."""
        ctx.fleets += 1
        self._ctx, self._replicas, self._warm = ctx, replicas, warm
        self.processes = Processes(
            ctx.settings,
            ctx.log_dir,
            worker_replicas=replicas,
            orchestrator_replicas=ctx.orchestrators,
            launcher=None if ctx.memray is None else _memray(ctx.memray, ctx.fleets),
            BAKEPLAN_LOG_LEVEL="WARNING",
            BAKEPLAN_RELAY_POLL_SECONDS="0.5",  # NOTIFY wakes the relays; polling is the fallback
            # the benchmark plans fixed dates (TODAY and days before it), whatever the real today
            BAKEPLAN_TRIGGER_MAX_PAST_DAYS="36500",
            BAKEPLAN_TRIGGER_MAX_FUTURE_DAYS="36500",
        )
        self._start: dict[str, dict[int, probes.ProcSample]] = {}

    async def __aenter__(self) -> "Fleet":
        for role in ROLES:
            await asyncio.to_thread(self.processes.start, role)
        await self.warm_up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.processes.stop_all)

    async def warm_up(self) -> None:
        """Run a few sagas of tenants of their own to the end before anything is measured, and count
        CPU from then on. A new fleet's first sagas wait for what a fleet that runs all night has done
        long before: consumer groups settling, connection pools filling, first statements prepared.
        Measured cold, the first 2–5 sagas set the p99 of a 30-saga phase. 4 + 4 × replicas sagas:
        each replica of a role gets one with a chance of 1 − 2^-(4 + 4 × replicas) or better."""
        ctx = self._ctx
        tenants = await seed(ctx, f"b{ctx.run_id}-warm{ctx.fleets}", 4 + 4 * self._replicas, self._warm)
        async with Triggers(ctx.settings) as triggers:
            await wait_all(ctx.engine, await triggers.send([(t, TODAY) for t in tenants]), timeout_s=600)
        self._start = {name: probes.tree_samples(p.pid) for name, p in self.processes.procs.items()}

    def usage(self) -> dict[str, dict[str, float]]:
        """CPU seconds since the fleet was ready, and peak RSS since each process started, of each
        role replica's whole process tree: `cpu_s` includes its planner processes (`planners_cpu_s`
        of it; one that exited meanwhile is not counted), `peak_rss_mb` is the largest of any one
        process of the tree, and `planners_peak_rss_mb` the largest of the planners."""
        out = {}
        for name, proc in self.processes.procs.items():
            start, now = self._start[name], probes.tree_samples(proc.pid)
            spent = {pid: sample.cpu_s - (start[pid].cpu_s if pid in start else 0.0) for pid, sample in now.items()}
            planners = [pid for pid in now if pid != proc.pid]
            out[name] = {
                "cpu_s": round(sum(spent.values()), 2),
                "planners_cpu_s": round(sum(spent[pid] for pid in planners), 2),
                "peak_rss_mb": round(max(sample.peak_rss_mb for sample in now.values()), 1),
                "planners_peak_rss_mb": round(max((now[pid].peak_rss_mb for pid in planners), default=0.0), 1),
            }
        return out


def _memray(out: Path, fleet: int) -> Callable[[str], list[str]]:
    """Python under `memray run`, a capture per process: `python -m memray stats FILE` gives its peak
    heap, and `memray flamegraph FILE` what was allocated at that peak (the `profile` uv group)."""
    out.mkdir(parents=True, exist_ok=True)
    return lambda name: [sys.executable, "-m", "memray", "run", "-q", "-f", "-o", str(out / f"fleet{fleet}-{name}.bin")]


async def seed(ctx: Context, prefix: str, count: int, profile: Profile) -> list[str]:
    """`count` tenants of one generated profile under distinct ids (generated once: seeding is not
    what is measured). The data is drawn from a fixed id, so every run of a profile plans the same
    bakery: before, it was drawn from the run's prefix, and the rows per standard saga varied by
    ~10 % between runs (2,181 to 2,462 inserted), more than the changes being compared."""
    template = seeded_tenant(f"bench-{profile}", profile=profile, seed=11, today=TODAY)
    ids = [f"{prefix}-{n}" for n in range(count)]
    for chunk in range(0, count, 50):
        async with ctx.engine.begin() as conn:
            for tenant in ids[chunk : chunk + 50]:
                await write_tenant(conn, dataclasses.replace(template, tenant_id=tenant))
    return ids


def _trigger(job: Job) -> PlanningRequested:
    tenant, day = job
    return PlanningRequested(
        event_id=uuid4(),
        tenant_id=tenant,
        occurred_at=datetime.now(UTC),
        business_date=day,
        source="external",
        requested_by="bench",
        horizon_days=14,
    )


class Triggers:
    """Publishes triggers and remembers when each was sent (the latency starts there)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer = new_producer(settings, Principal.EXTERNAL, enable_idempotence=True, acks="all", linger_ms=5)
        self.sent_at: dict[UUID, datetime] = {}

    async def __aenter__(self) -> "Triggers":
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send(self, jobs: Sequence[Job], *, wait: bool = True) -> list[UUID]:
        saga_ids = []
        futures = []
        for job in jobs:
            message = _trigger(job)
            saga_id = saga_id_for_trigger(message.event_id)
            self.sent_at[saga_id] = datetime.now(UTC)
            futures.append(
                await self._producer.send(self._settings.topic(Topic.TRIGGERS), encode(message), key=job[0].encode())
            )
            saga_ids.append(saga_id)
        if wait:
            await asyncio.gather(*futures)
        return saga_ids


async def _finished(engine: AsyncEngine, saga_ids: Sequence[UUID]) -> int:
    async with engine.connect() as conn:
        return int(
            (
                await conn.execute(
                    select(func.count())
                    .select_from(sagas)
                    .where(sagas.c.saga_id.in_(saga_ids), sagas.c.status.in_(TERMINAL_STATUSES))
                )
            ).scalar_one()
        )


async def wait_all(engine: AsyncEngine, saga_ids: Sequence[UUID], *, timeout_s: float, poll_s: float = 0.2) -> float:
    """Seconds until every saga is terminal; raises after `timeout_s`."""
    start = time.monotonic()
    while (done := await _finished(engine, saga_ids)) < len(saga_ids):
        if time.monotonic() - start > timeout_s:
            raise TimeoutError(f"{done} of {len(saga_ids)} sagas terminal after {timeout_s} s")
        await asyncio.sleep(poll_s)
    return time.monotonic() - start


class Costs:
    """Kafka, Postgres and process counters around one measured stretch."""

    def __init__(self, ctx: Context, fleet: Fleet, *, read_bytes: bool) -> None:
        self._ctx, self._fleet, self._read_bytes = ctx, fleet, read_bytes

    async def __aenter__(self) -> "Costs":
        self._offsets = await probes.end_offsets(self._ctx.settings)
        self._pg = await probes.postgres_counters(self._ctx.engine)
        self._servers = probes.server_cpu_s()
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass

    async def per_saga(self, sagas_done: int) -> dict[str, Any]:
        kafka = await probes.kafka_counts(
            self._ctx.settings,
            self._offsets,
            await probes.end_offsets(self._ctx.settings),
            read_bytes=self._read_bytes,
        )
        pg = probes.diff(await probes.postgres_counters(self._ctx.engine), self._pg)
        servers = probes.server_cpu_s()
        usage = self._fleet.usage()
        return {
            "kafka_records": probes.per_saga({"total": sum(kafka.records.values()), **kafka.records}, sagas_done),
            "kafka_bytes": probes.per_saga({"total": sum(kafka.bytes.values()), **kafka.bytes}, sagas_done)
            if self._read_bytes
            else None,
            "postgres": probes.per_saga(pg, sagas_done),
            "cpu_s": probes.per_saga({k: v["cpu_s"] for k, v in usage.items()}, sagas_done),
            "server_cpu_s": probes.per_saga({k: v - self._servers[k] for k, v in servers.items()}, sagas_done),
            "processes": usage,
        }


# --- scenarios ----------------------------------------------------------------------------------


async def idle_latency(ctx: Context, *, sagas_n: int, profile: Profile, name: str = "idle") -> dict[str, Any]:
    """One saga at a time: trigger, wait until terminal, next. Each idle scenario of one run needs its
    own `name` (its tenants' ids, so its sagas are new)."""
    tenants = await seed(ctx, f"b{ctx.run_id}-{name}", sagas_n, profile)
    async with Fleet(ctx, replicas=1, warm=profile) as fleet, Triggers(ctx.settings) as triggers:
        ids = []
        for tenant in tenants:
            (saga_id,) = await triggers.send([(tenant, TODAY)])
            await wait_all(ctx.engine, [saga_id], timeout_s=60, poll_s=0.005)
            ids.append(saga_id)
        result = await probes.latencies(ctx.engine, triggers.sent_at, ids)
        result["processes"] = fleet.usage()
    return {"profile": profile, "sagas": sagas_n, **result}


def _jobs(tenants: Sequence[str], days: int) -> list[Job]:
    return [(t, TODAY - timedelta(days=d)) for d in range(days) for t in tenants]


async def throughput(
    ctx: Context, tenants: Sequence[str], days: tuple[int, int], *, rate: float, seconds: float, replicas: int
) -> dict[str, Any]:
    """Open loop: offer `rate` triggers/s for `seconds` and measure each saga's latency (used at half
    the capacity `capacity` found; offered past capacity, the queue would outlive the window)."""
    jobs = _jobs(tenants, days[1])[days[0] * len(tenants) :][: int(rate * seconds)]
    step = max(1, int(rate * 0.1))  # sent in tenths of a second
    async with (
        Fleet(ctx, replicas=replicas, warm="tiny") as fleet,
        Triggers(ctx.settings) as triggers,
        Costs(ctx, fleet, read_bytes=True) as costs,
    ):
        start = time.monotonic()
        ids: list[UUID] = []
        for n in range(0, len(jobs), step):
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            ids += await triggers.send(jobs[n : n + step], wait=False)
        offered_s = time.monotonic() - start
        await wait_all(ctx.engine, ids, timeout_s=seconds * 10 + 120)
        async with ctx.engine.connect() as conn:
            first, last = (
                await conn.execute(
                    select(func.min(sagas.c.updated_at), func.max(sagas.c.updated_at)).where(sagas.c.saga_id.in_(ids))
                )
            ).one()
        span = (last - first).total_seconds()
        result = await probes.latencies(ctx.engine, triggers.sent_at, ids)
        cost = await costs.per_saga(len(ids))
    return {
        "replicas": replicas,
        "partitions": ctx.partitions,
        "offered_per_s": round(len(ids) / offered_s, 1),
        "sagas": len(ids),
        "completed_per_s": round(len(ids) / span, 1) if span > 0 else None,
        "completion_span_s": round(span, 1),
        **result,
        "cost_per_saga": cost,
    }


async def capacity(
    ctx: Context,
    tenants: Sequence[str],
    days: tuple[int, int],
    *,
    in_flight: int,
    seconds: float,
    replicas: int,
    flames: Path | None = None,
) -> dict[str, Any]:
    """Closed loop: keep `in_flight` sagas running for `seconds`, starting a new one as each ends.
    The sustained rate is the sagas that ended within the window over its length; the queue never
    grows past `in_flight`, so no step deadline passes because of the benchmark itself. With
    `flames`, py-spy samples every process over the window (`probes.flame_graphs`)."""
    jobs = iter(_jobs(tenants, days[1])[days[0] * len(tenants) :])
    async with (
        Fleet(ctx, replicas=replicas, warm="tiny") as fleet,
        Triggers(ctx.settings) as triggers,
        Costs(ctx, fleet, read_bytes=True) as costs,
    ):
        ids = await triggers.send([next(jobs) for _ in range(in_flight)])
        spies = (
            probes.flame_graphs({n: p.pid for n, p in fleet.processes.procs.items()}, flames, seconds)
            if flames is not None
            else []
        )
        start = time.monotonic()
        done = 0
        while (elapsed := time.monotonic() - start) < seconds:
            await asyncio.sleep(0.1)
            done = await _finished(ctx.engine, ids)
            missing = in_flight - (len(ids) - done)
            if missing > 0:
                ids += await triggers.send([next(jobs) for _ in range(missing)])
        in_window = done
        for spy in spies:
            await asyncio.to_thread(spy.wait)
        await wait_all(ctx.engine, ids, timeout_s=600)
        result = await probes.latencies(ctx.engine, triggers.sent_at, ids)
        cost = await costs.per_saga(len(ids))
    return {
        "replicas": replicas,
        "partitions": ctx.partitions,
        "in_flight": in_flight,
        "window_s": round(elapsed, 1),
        "sagas": len(ids),
        "completed_per_s": round(in_window / elapsed, 1),
        **result,
        "cost_per_saga": cost,
    }


async def burst(
    ctx: Context, *, tenants_n: int, profile: Profile, replicas: int, name: str = "burst"
) -> dict[str, Any]:
    """Every tenant triggered at once; seconds until all are terminal, and what it cost. Each burst of
    one run needs its own `name` (its tenants' ids, so its sagas are new)."""
    tenants = await seed(ctx, f"b{ctx.run_id}-{name}", tenants_n, profile)
    async with (
        Fleet(ctx, replicas=replicas, warm=profile) as fleet,
        Triggers(ctx.settings) as triggers,
        Costs(ctx, fleet, read_bytes=False) as costs,
    ):
        start = time.monotonic()
        ids = await triggers.send([(t, TODAY) for t in tenants])
        await wait_all(ctx.engine, ids, timeout_s=1800, poll_s=0.5)
        seconds = time.monotonic() - start
        result = await probes.latencies(ctx.engine, triggers.sent_at, ids)
        cost = await costs.per_saga(len(ids))
    pure_s = await probes.pure_planning_seconds(ctx.engine, ids)
    return {
        "profile": profile,
        "tenants": tenants_n,
        "replicas": replicas,
        "partitions": ctx.partitions,
        "seconds": round(seconds, 1),
        "pure_planning_seconds": round(pure_s, 1),
        "overhead_ratio": round(seconds / pure_s, 2),
        **result,
        "cost_per_saga": cost,
    }
