"""Duplicate delivery: 20 % of the triggers are published twice with the same event id, and one
component's consumer group is rewound 50 offsets per partition after everything was handled, so its
messages are delivered again. The inboxes must absorb all of it.

The mutation runs turn one component's inbox off (BAKEPLAN_UNSAFE_DISABLE_INBOX), each component in
turn. For a worker, the duplicate check must then FAIL: proof that it sees what it guards against. The
orchestrator has a second line of defence: with its inbox off, a redelivered trigger finds the day's
plan taken and a redelivered reply finds its step done, so the saga engine ignores both. Its run shows
every redelivered record handled again (a timeline line each) and still no second effect."""

import signal
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from contracts.topics import Topic
from orchestrator.saga import STEP_TOPICS
from orchestrator.tables import saga_log, sagas
from tests.faults import kafka_state
from tests.faults.checks import verify
from tests.faults.conftest import FaultRun
from tests.faults.harness import WORKER_ROLES
from tests.faults.load import KafkaWriter, daily_requests
from tests.faults.verdict import Verdict
from tests.faults.waits import settle

pytestmark = pytest.mark.faults

TENANTS = 20
DAYS = 3
DUPLICATE_SHARE = 0.2
REWIND = 50
SETTLE_TIMEOUT_S = 90.0
TERMINAL_BOUND_S = 60.0


async def test_republished_triggers_and_rewound_group_have_no_second_effect(run: FaultRun) -> None:
    verdict, rewind = await _duplicate_delivery(run, inbox=True)

    # the faults happened: triggers went out twice, and the worker read 50 records per partition again
    assert rewind.repeated_triggers == round(DUPLICATE_SHARE * TENANTS * DAYS)
    assert rewind.records >= REWIND
    assert rewind.read_again >= rewind.records
    assert verdict.figures["sagas"] == TENANTS * DAYS  # one saga per (tenant, day), however often triggered
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


@pytest.mark.parametrize("role", WORKER_ROLES)
async def test_mutation_without_a_worker_s_inbox_the_duplicate_check_fails(run: FaultRun, role: str) -> None:
    verdict, rewind = await _duplicate_delivery(run, inbox=False, role=role)

    applied_twice = [m for m in verdict.violations["duplicates"] if m.startswith(f"{rewind.role}.effect_log")]
    # the mutation is caught: every rewound command of this test took effect a second time
    assert rewind.read_again >= rewind.records > 0
    assert verdict.count("duplicates") > 0
    assert len(applied_twice) == rewind.records, verdict.violations["duplicates"][:5]
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}


async def test_mutation_without_the_orchestrator_s_inbox_the_saga_engine_ignores_every_redelivery(
    run: FaultRun,
) -> None:
    verdict, rewind = await _duplicate_delivery(run, inbox=False, role="orchestrator")

    # every record the rewind gave back was handled again (no inbox stopped it) ...
    assert rewind.read_again >= rewind.records > 0
    assert rewind.handled_again >= rewind.records
    # ... and none took effect a second time: the engine ignored each one
    assert verdict.figures["sagas"] == TENANTS * DAYS
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}
    verdict.assert_clean()


@dataclass(frozen=True)
class Rewind:
    role: str
    """The worker whose consumer group was rewound."""
    records: int
    """How many committed records the rewind gave back, over all partitions."""
    read_again: int
    """How far the group's committed offsets advanced again afterwards."""
    repeated_triggers: int
    handled_again: int
    """The orchestrator's timeline lines for redelivered messages (ignored replies, duplicate triggers)
    written after the restart; 0 for a worker."""


ORCHESTRATOR_TOPICS = (str(Topic.TRIGGERS), str(Topic.STEP_REPLIES))


async def _redeliveries_handled(run: FaultRun, since: datetime) -> int:
    async with run.engine.connect() as conn:
        found = await conn.execute(
            select(func.count())
            .select_from(saga_log.join(sagas, sagas.c.saga_id == saga_log.c.saga_id))
            .where(
                sagas.c.tenant_id.in_(run.tenants),
                saga_log.c.kind.in_(["ignored", "duplicate_trigger"]),
                saga_log.c.at >= since,
            )
        )
        return int(found.scalar_one())


async def _duplicate_delivery(run: FaultRun, *, inbox: bool, role: str | None = None) -> tuple[Verdict, Rewind]:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2)
    role = role or run.rng.choice(WORKER_ROLES)
    if not inbox:
        for name in fleet.names(role):
            fleet.set_env(name, UNSAFE_DISABLE_INBOX="true")
    await run.start(fleet)
    scope = await run.scope()

    async with KafkaWriter(run.settings) as writer:
        triggers = await writer.triggers(daily_requests(run.tenants, days=DAYS, rng=run.rng), over_s=5)
        repeats = run.rng.sample(triggers, k=round(DUPLICATE_SHARE * len(triggers)))
        triggers += [await writer.resend(t) for t in repeats]
    await settle(scope, triggers, timeout_s=SETTLE_TIMEOUT_S)

    # rewind the worker's group: stop its replicas, move the committed offsets back, start them
    group = f"bakeplan.{role}"
    for name in fleet.names(role):
        await fleet.kill(name, signal.SIGTERM)
    await kafka_state.wait_groups_empty(run.settings, [group], timeout_s=30)
    topics = ORCHESTRATOR_TOPICS if role == "orchestrator" else (str(STEP_TOPICS[role]),)
    before = {tp: o for tp, o in (await kafka_state.committed(run.settings, group)).items() if tp.topic in topics}
    # with the inbox off, only this test's own commands are rewound (older ones belong to other tests)
    floor = {tp: scope.marks[tp] if not inbox else 0 for tp in before}
    rewound = {tp: max(floor[tp], offset - REWIND) for tp, offset in before.items()}
    await kafka_state.move_group_offsets(run.settings, group, rewound)
    moved = await kafka_state.committed(run.settings, group)
    assert {tp: moved[tp] for tp in rewound} == rewound, "the group's offsets did not move"
    restarted_at = datetime.now(UTC)
    for name in fleet.names(role):
        await fleet.restart(name)
    redelivered_from = time.monotonic()

    verdict = await verify(scope, triggers, last_fault_at=redelivered_from, terminal_bound_s=TERMINAL_BOUND_S)
    # verify waited for the group to consume to the end again: the rewound records were re-read
    after = await kafka_state.committed(run.settings, group)
    rewind = Rewind(
        role=role,
        records=sum(before[tp] - rewound[tp] for tp in before),
        read_again=sum(after[tp] - rewound[tp] for tp in rewound),
        repeated_triggers=len(repeats),
        handled_again=await _redeliveries_handled(run, restarted_at) if role == "orchestrator" else 0,
    )
    run.report(verdict, inbox="on" if inbox else "OFF (mutation)", faults=asdict(rewind))
    return verdict, rewind
