"""Fixtures of the fault suite: one `FaultRun` per test (its seed, tenants, processes, engine and
report), and a private Kafka + Postgres for the tests that kill the servers themselves."""

import os
import random
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import create_engine
from infra.settings import Settings
from lab.synthetic import TenantData
from tests.faults import kafka_state
from tests.faults.harness import Fleet
from tests.faults.kafka_state import GROUP_TOPICS
from tests.faults.load import seed_tenants, tenant_ids
from tests.faults.private_stack import PrivateStack
from tests.faults.verdict import Verdict, write_report
from tests.faults.waits import Scope

DEFAULT_SEED = 20261128
# A SIGKILLed consumer holds its partitions until its session times out (default 10 s), and every
# crash test kills several: a 6 s session (heartbeat every second) keeps the suite in its time budget.
QUICK_FAILOVER = {"SESSION_TIMEOUT_MS": "6000", "HEARTBEAT_INTERVAL_MS": "1000"}


@dataclass
class FaultRun:
    """Everything one fault test owns. `rng` is the only source of randomness in the test."""

    name: str
    seed: int
    settings: Settings
    engine: AsyncEngine
    log_dir: Path
    tenant_prefix: str
    rng: random.Random = field(init=False)
    started: float = field(default_factory=time.monotonic)
    fleets: list[Fleet] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def fleet(self, *, workers_per_role: int = 2, **env: str) -> Fleet:
        """One orchestrator and `workers_per_role` replicas per worker, not started yet; `env` for all."""
        fleet = Fleet(self.settings, self.log_dir, env=env)
        fleet.add_standard(workers_per_role=workers_per_role)
        self.fleets.append(fleet)
        return fleet

    async def start(self, fleet: Fleet) -> None:
        await self.require_idle_groups()
        await fleet.start()

    async def seed_tenants(self, n: int) -> dict[str, TenantData]:
        self.tenants = tenant_ids(self.tenant_prefix, n)
        return await seed_tenants(self.engine, self.tenants, seed_value=self.seed)

    @property
    def crash_log(self) -> Path:
        return self.log_dir / "crash.log"

    def crashes(self) -> list[tuple[str, int]]:
        """(label, pid) per line the crash points appended before killing their process."""
        if not self.crash_log.exists():
            return []
        return [(label, int(pid)) for label, pid in (line.split() for line in self.crash_log.read_text().splitlines())]

    async def require_idle_groups(self) -> None:
        """Before starting processes: no other consumer may be in bakeplan's groups, or it would
        take partitions (and messages) this test accounts for."""
        await kafka_state.wait_groups_empty(self.settings, list(GROUP_TOPICS), timeout_s=45)

    async def scope(self) -> Scope:
        """Marks the topics' current ends: the checks read only what came after."""
        return Scope(self.settings, self.engine, tuple(self.tenants), await kafka_state.end_offsets(self.settings))

    def report(self, verdict: Verdict, **figures: Any) -> dict[str, Any]:
        """The test's summary (printed, and written as JSON when BAKEPLAN_FAULTS_REPORT_DIR is set)."""
        summary = {
            "test": self.name,
            "seed": self.seed,
            "tenants": len(self.tenants),
            **verdict.figures,
            **figures,
            "violations": verdict.total,
            "violations_by_property": {p: len(v) for p, v in verdict.violations.items()},
            "violation_examples": {p: v[:3] for p, v in verdict.violations.items() if v},
            "wall_s": round(time.monotonic() - self.started, 1),
        }
        write_report(self.name, summary)
        print(f"\nfault summary {self.name}: {summary}")
        return summary


@pytest.fixture
def fault_seed(request: pytest.FixtureRequest) -> int:
    """BAKEPLAN_FAULTS_SEED reruns a failure; the default keeps CI deterministic."""
    seed = int(os.environ.get("BAKEPLAN_FAULTS_SEED", DEFAULT_SEED))
    print(f"\n{request.node.nodeid}: seed {seed} (rerun with BAKEPLAN_FAULTS_SEED={seed})")
    return seed


RunFactory = Callable[[Settings], Awaitable[FaultRun]]


@pytest.fixture
async def new_run(request: pytest.FixtureRequest, fault_seed: int, tmp_path: Path) -> AsyncIterator[RunFactory]:
    """`await new_run(settings)`: a FaultRun on those servers; its processes and engine are stopped
    at teardown, and their logs kept under tmp_path."""
    runs: list[FaultRun] = []

    async def make(settings: Settings) -> FaultRun:
        # the fault checks read topics and consumer groups by their bakeplan names: no run prefix (the
        # suite owns its consumer groups anyway, see `kafka_state.wait_groups_empty`)
        settings = settings.model_copy(update={"topic_prefix": ""})
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
        run = FaultRun(
            name=name,
            seed=fault_seed,
            settings=settings,
            engine=create_engine(settings),
            log_dir=tmp_path,
            tenant_prefix=f"f{uuid.uuid4().hex[:6]}",
        )
        runs.append(run)
        return run

    yield make
    for run in runs:
        for fleet in run.fleets:
            await fleet.stop_all()
        await run.engine.dispose()
    print(f"\nprocess logs of {request.node.nodeid}: {tmp_path}")


@pytest.fixture
async def run(new_run: RunFactory, settings: Settings) -> FaultRun:
    """A FaultRun on the shared Kafka and Postgres of the test session."""
    return await new_run(settings)


@pytest.fixture(scope="session")
def private_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateStack]:
    """A Kafka and a Postgres of the fault suite's own, for the tests that kill or restart them
    (the session's shared servers must not go away under other tests). Stopped at session end."""
    stack = PrivateStack(tmp_path_factory.mktemp("private-stack"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
async def private_run(new_run: RunFactory, private_stack: PrivateStack) -> FaultRun:
    """A FaultRun on the suite's private Kafka and Postgres."""
    return await new_run(private_stack.settings)
