"""Duplicate delivery: 20 % of the triggers are published twice with the same event id, and one
worker's consumer group is rewound 50 offsets per partition after everything was handled, so its
commands are delivered again. The inboxes must absorb all of it. The mutation run turns that
worker's inbox off (BAKEPLAN_UNSAFE_DISABLE_INBOX) and asserts the duplicate check then FAILS —
proof that the check can see what it guards against."""

import signal
import time
from dataclasses import asdict, dataclass

import pytest

from orchestrator.saga import STEP_TOPICS
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


async def test_mutation_without_inbox_the_duplicate_check_fails(run: FaultRun) -> None:
    verdict, rewind = await _duplicate_delivery(run, inbox=False)

    applied_twice = [m for m in verdict.violations["duplicates"] if m.startswith(f"{rewind.role}.effect_log")]
    # the mutation is caught: every rewound command of this test took effect a second time
    assert rewind.read_again >= rewind.records > 0
    assert verdict.count("duplicates") > 0
    assert len(applied_twice) == rewind.records, verdict.violations["duplicates"][:5]
    assert verdict.figures["statuses"] == {"COMPLETED": TENANTS * DAYS}


@dataclass(frozen=True)
class Rewind:
    role: str
    """The worker whose consumer group was rewound."""
    records: int
    """How many committed records the rewind gave back, over all partitions."""
    read_again: int
    """How far the group's committed offsets advanced again afterwards."""
    repeated_triggers: int


async def _duplicate_delivery(run: FaultRun, *, inbox: bool) -> tuple[Verdict, Rewind]:
    await run.seed_tenants(TENANTS)
    fleet = run.fleet(workers_per_role=2)
    role = run.rng.choice(WORKER_ROLES)
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
    topic = str(STEP_TOPICS[role])
    before = {tp: o for tp, o in (await kafka_state.committed(run.settings, group)).items() if tp.topic == topic}
    # with the inbox off, only this test's own commands are rewound (older ones belong to other tests)
    floor = {tp: scope.marks[tp] if not inbox else 0 for tp in before}
    rewound = {tp: max(floor[tp], offset - REWIND) for tp, offset in before.items()}
    await kafka_state.move_group_offsets(run.settings, group, rewound)
    moved = await kafka_state.committed(run.settings, group)
    assert {tp: moved[tp] for tp in rewound} == rewound, "the group's offsets did not move"
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
    )
    run.report(verdict, inbox="on" if inbox else "OFF (mutation)", faults=asdict(rewind))
    return verdict, rewind
