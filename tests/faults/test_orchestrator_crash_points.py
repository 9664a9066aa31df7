"""The orchestrator SIGKILLs itself at a labelled crash point, is restarted with the point still
armed a few times, then disarmed: after the handler committed but before the Kafka offset did,
after state and outbox rows committed but before the relay published them, and right after it
committed a compensation decision."""

import pytest

from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import Supervisor
from tests.faults.load import KafkaWriter, break_procurement, daily_requests

pytestmark = pytest.mark.faults

TENANTS = 20
BROKEN_TENANTS = 5  # procurement fails: their sagas compensate production and forecasting
DAYS = 2
ARMED_DEATHS = 3  # restarts with the crash point still armed; after that it is disarmed
TERMINAL_BOUND_S = 90.0


@pytest.mark.parametrize(
    "label", ["orchestrator.after_commit", "orchestrator.before_publish", "orchestrator.compensating"]
)
async def test_orchestrator_killed_at_crash_point(run: FaultRun, label: str) -> None:
    data = await run.seed_tenants(TENANTS)
    broken = run.tenants[:BROKEN_TENANTS]
    await break_procurement(run.engine, {t: data[t] for t in broken})
    fleet = run.fleet(workers_per_role=1, **QUICK_FAILOVER)
    # compensations come later and less often than commits: crash at an earlier hit for them
    first_hit = 1 if label == "orchestrator.compensating" else run.rng.randint(5, 25)
    fleet.set_env("orchestrator-1", CRASH_AT=label, CRASH_AFTER_HITS=str(first_hit), CRASH_LOG=str(run.crash_log))
    await run.start(fleet)
    scope = await run.scope()

    def rearm(name: str, deaths: int) -> dict[str, str]:
        if deaths >= ARMED_DEATHS:
            return {"CRASH_AT": ""}
        return {
            "CRASH_AFTER_HITS": str(
                run.rng.randint(1, 3) if label == "orchestrator.compensating" else run.rng.randint(3, 15)
            )
        }

    async with Supervisor(fleet, env_for_restart=rearm) as supervisor, KafkaWriter(run.settings) as writer:
        triggers = await writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=10)
        verdict = await verify(scope, triggers, last_fault_at=fleet.last_fault_at, terminal_bound_s=TERMINAL_BOUND_S)
    deaths = fleet.faults_of("exit", role="orchestrator")
    crashes = run.crashes()
    run.report(verdict, label=label, faults={"crash_log_lines": len(crashes), "orchestrator_deaths": len(deaths)})

    # the fault happened: the armed point fired in processes the harness started, and each was restarted
    assert crashes, f"the crash point {label} never fired"
    assert {lbl for lbl, _ in crashes} == {label}
    assert {pid for _, pid in crashes} <= set(fleet.replicas["orchestrator-1"].pids)
    assert 1 <= len(deaths) == len(crashes) <= ARMED_DEATHS, supervisor.restart_errors
    assert fleet.running("orchestrator-1")
    statuses = verdict.figures["statuses"]
    assert statuses == {"COMPLETED": (TENANTS - BROKEN_TENANTS) * DAYS, "COMPENSATED": BROKEN_TENANTS * DAYS}
    verdict.assert_clean()
