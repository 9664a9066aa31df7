"""The outbox relay SIGKILLs its process after Kafka acknowledged a batch but before the rows are
marked sent (`relay.after_publish`), in a worker and in the orchestrator: the restarted relay
publishes the batch again, so the same event ids are on the topics twice, and the consumers' inboxes
must make that harmless."""

import pytest

from tests.faults.checks import verify
from tests.faults.conftest import QUICK_FAILOVER, FaultRun
from tests.faults.harness import Supervisor
from tests.faults.load import KafkaWriter, daily_requests

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 3
ARMED_DEATHS = 2  # per replica: restarts with the crash point still armed
TERMINAL_BOUND_S = 90.0


@pytest.mark.parametrize("role", ["production", "orchestrator"])
async def test_relay_killed_between_publish_and_marking_sent(run: FaultRun, role: str) -> None:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2, **QUICK_FAILOVER)
    armed = fleet.names(role)
    for name in armed:
        fleet.set_env(
            name,
            CRASH_AT="relay.after_publish",
            CRASH_AFTER_HITS=str(run.rng.randint(2, 6)),
            CRASH_LOG=str(run.crash_log),
        )
    await run.start(fleet)
    scope = await run.scope()

    def rearm(name: str, deaths: int) -> dict[str, str]:
        return {"CRASH_AT": ""} if deaths >= ARMED_DEATHS else {"CRASH_AFTER_HITS": str(run.rng.randint(1, 4))}

    async with Supervisor(fleet, env_for_restart=rearm) as supervisor, KafkaWriter(run.settings) as writer:
        triggers = await writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=10)
        verdict = await verify(scope, triggers, last_fault_at=fleet.last_fault_at, terminal_bound_s=TERMINAL_BOUND_S)
    crashes = run.crashes()
    deaths = fleet.faults_of("exit", role=role)
    republished = verdict.figures["republished_on_topics"]
    run.report(verdict, role=role, faults={"crash_log_lines": len(crashes), "relay_deaths": len(deaths)})

    # the fault happened: the relay died after publishing, and its batch went out again
    assert crashes, "relay.after_publish never fired"
    assert {label for label, _ in crashes} == {"relay.after_publish"}
    assert {pid for _, pid in crashes} <= {pid for name in armed for pid in fleet.replicas[name].pids}
    assert len(deaths) == len(crashes), supervisor.restart_errors
    assert republished.get(role, 0) >= 1, f"no {role} outbox row is on its topic twice: {republished}"
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()
