"""The tenant-binding rules (docs/security.md, "Tenant binding"): content digests, trigger ids and
dates, replies checked against their saga's tenant and causation, and the orchestrator refusing each
forged message while the real one still takes effect."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4, uuid5

import pytest

from contracts import ids
from contracts.binding import content_digest, trigger_id_problem
from contracts.envelope import Message
from contracts.errors import PermanentError, TenantBindingError
from contracts.messages import ALL_MESSAGES, DemandForecasted, ForecastDemand, StepCompensated, StepFailed
from infra.messaging.attempts import MemoryDeliveryAttempts
from orchestrator.binding import TriggerWindow
from orchestrator.engine import SagaStatus
from tests.unit.orchestrator_world import BAKERY, OTHER_BAKERY, START, TODAY, World, a_trigger, reply_to, started

pytestmark = pytest.mark.unit

# --- content digest --------------------------------------------------------------------------------


def test_a_resend_has_the_same_digest_and_other_content_another() -> None:
    trigger = a_trigger()
    resent = trigger.model_copy(update={"occurred_at": START + timedelta(minutes=5)})
    by_hand = trigger.model_copy(update={"source": "operator", "requested_by": "ana"})
    longer = trigger.model_copy(update={"horizon_days": 3})
    assert content_digest(resent) == content_digest(trigger)
    assert content_digest(by_hand) == content_digest(trigger)  # who sent a day's trigger is not what it asks
    assert content_digest(longer) != content_digest(trigger)


def test_a_replys_content_is_in_its_digest() -> None:
    envelope: dict[str, Any] = {
        "event_id": uuid4(),
        "tenant_id": BAKERY,
        "saga_id": uuid4(),
        "occurred_at": START,
    }
    failed = StepFailed(step="production", reason="no oven", **envelope)
    assert content_digest(failed) != content_digest(failed.model_copy(update={"reason": "no flour"}))
    assert content_digest(failed) != content_digest(failed.model_copy(update={"tenant_id": OTHER_BAKERY}))


# --- trigger ids and dates ----------------------------------------------------------------------------


def test_a_trigger_id_is_the_days_own_or_random() -> None:
    assert trigger_id_problem(ids.daily_trigger_id(BAKERY, TODAY), BAKERY, TODAY) is None
    assert trigger_id_problem(uuid4(), BAKERY, TODAY) is None
    others = ids.daily_trigger_id(OTHER_BAKERY, TODAY)
    problem = trigger_id_problem(others, BAKERY, TODAY)
    assert problem is not None
    assert "neither the day's" in problem
    assert trigger_id_problem(ids.daily_trigger_id(BAKERY, TODAY + timedelta(days=1)), BAKERY, TODAY) is not None
    assert trigger_id_problem(uuid5(uuid4(), "x"), BAKERY, TODAY) is not None


@pytest.mark.parametrize(
    ("offset_days", "allowed"), [(-2, False), (-1, True), (0, True), (7, True), (8, False), (-400, False)]
)
def test_the_business_date_window_is_1_day_back_to_7_ahead(offset_days: int, allowed: bool) -> None:
    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    problem = TriggerWindow().problem(date(2026, 11, 28) + timedelta(days=offset_days), now=now, time_zone="UTC")
    assert (problem is None) == allowed
    if problem is not None:
        assert "BAKEPLAN_TRIGGER_MAX_PAST_DAYS" in problem
        assert "2026-11-28" in problem


def test_the_window_is_the_tenants_local_today() -> None:
    # 11:00 UTC on the 28th is already the 29th in Kiritimati (UTC+14): the 27th is 2 days back there
    now = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)
    window = TriggerWindow(max_past_days=1, max_future_days=7)
    assert window.problem(date(2026, 11, 27), now=now, time_zone="UTC") is None
    assert window.problem(date(2026, 11, 27), now=now, time_zone="Pacific/Kiritimati") is not None


# --- the orchestrator, on in-memory stores ---------------------------------------------------------


async def _first_command(world: World) -> tuple[Any, ForecastDemand]:
    saga_id = await started(world)
    (command,) = world.sent(ForecastDemand, saga_id)
    return saga_id, command


async def test_a_reply_for_another_tenants_saga_is_refused_and_the_real_one_applies() -> None:
    world = World()
    saga_id, command = await _first_command(world)
    real = reply_to(command, START)
    forged = real.model_copy(update={"tenant_id": OTHER_BAKERY, "event_id": uuid4()})
    before = world.seen()

    with pytest.raises(TenantBindingError) as refused:
        await world.orchestrator.handle(forged)
    assert refused.value.kind == "reply_tenant_mismatch"
    assert world.seen() == before  # nothing recorded, the inbox claim rolled back with it

    await world.orchestrator.handle(real)
    assert world.saga(saga_id).state.step("forecasting").status.value == "DONE"


async def test_a_reply_to_a_command_the_saga_never_sent_is_refused() -> None:
    world = World()
    saga_id, command = await _first_command(world)
    real = reply_to(command, START)
    forged = real.model_copy(update={"causation_id": uuid4(), "event_id": uuid4()})
    with pytest.raises(TenantBindingError) as refused:
        await world.orchestrator.handle(forged)
    assert refused.value.kind == "not_caused_by_saga"
    # a compensation reply must answer a compensation command, not the run
    compensated = StepCompensated(
        step="forecasting",
        affected_rows=0,
        **real.model_dump(include={"tenant_id", "saga_id", "causation_id"}),
        event_id=uuid4(),
        occurred_at=START,
    )
    with pytest.raises(TenantBindingError):
        await world.orchestrator.handle(compensated)
    await world.orchestrator.handle(real)
    assert world.saga(saga_id).state.step("forecasting").status.value == "DONE"


async def test_a_reply_naming_no_saga_is_a_security_event() -> None:
    world = World()
    _, command = await _first_command(world)
    forged = reply_to(command, START).model_copy(update={"saga_id": uuid4()})
    with pytest.raises(TenantBindingError) as refused:
        await world.orchestrator.handle(forged)
    assert refused.value.kind == "unknown_saga"


async def test_the_same_reply_id_with_other_content_is_refused_not_taken_for_a_duplicate() -> None:
    world = World()
    saga_id, command = await _first_command(world)
    real = reply_to(command, START)
    assert isinstance(real, DemandForecasted)
    await world.orchestrator.handle(real)
    await world.orchestrator.handle(real)  # a redelivery: harmless
    changed = real.model_copy(update={"forecast": real.forecast[:1]})
    with pytest.raises(TenantBindingError) as refused:
        await world.orchestrator.handle(changed)
    assert refused.value.kind == "inbox_conflict"
    assert world.saga(saga_id).state.status is SagaStatus.RUNNING


async def test_a_trigger_with_another_tenants_day_id_cannot_take_its_saga() -> None:
    world = World()
    theirs = ids.daily_trigger_id(OTHER_BAKERY, TODAY)
    forged = a_trigger(BAKERY, event_id=theirs)
    with pytest.raises(TenantBindingError) as refused:
        await world.orchestrator.handle(forged)
    assert refused.value.kind == "trigger_id_not_derived"
    saga_id = await started(world, a_trigger(OTHER_BAKERY))
    assert world.saga(saga_id).tenant_id == OTHER_BAKERY


async def test_a_stale_or_far_future_trigger_is_refused_with_the_window_in_the_reason() -> None:
    world = World()
    for day in (TODAY - timedelta(days=3), TODAY + timedelta(days=30)):
        trigger = a_trigger().model_copy(update={"business_date": day, "event_id": ids.daily_trigger_id(BAKERY, day)})
        with pytest.raises(PermanentError, match="BAKEPLAN_TRIGGER_MAX_PAST_DAYS") as refused:
            await world.orchestrator.handle(trigger)
        assert not isinstance(refused.value, TenantBindingError)
    assert world.stores.sagas() == []
    await started(world)  # today's still starts
    assert len(world.stores.sagas()) == 1


# --- durable attempts: the counting rule ----------------------------------------------------------


async def test_deliveries_count_per_offset_and_start_again_at_the_next() -> None:
    attempts = MemoryDeliveryAttempts()
    counts = [await attempts.begin("g", "t", 0, 10) for _ in range(3)]
    await attempts.refund("g", "t", 0, 10)
    again = await attempts.begin("g", "t", 0, 10)
    other_partition = await attempts.begin("g", "t", 1, 10)
    assert (counts, again, other_partition) == ([1, 2, 3], 3, 1)
    assert await attempts.begin("g", "t", 0, 11) == 1
    assert await attempts.begin("g", "t", 0, 10) == 1  # went back: a new count
    await attempts.refund("g", "t", 0, 99)  # not the offset in hand: nothing
    assert await attempts.begin("g", "t", 0, 10) == 2


# --- bounds ------------------------------------------------------------------------------------------


def _unbounded(schema: Any, path: str, defs: dict[str, Any], seen: set[str]) -> list[str]:
    if isinstance(schema, list):
        return [p for i, s in enumerate(schema) for p in _unbounded(s, f"{path}[{i}]", defs, seen)]
    if not isinstance(schema, dict):
        return []
    found: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            seen.add(name)
            found += _unbounded(defs[name], name, defs, seen)
    if schema.get("type") == "array" and "maxItems" not in schema:
        found.append(path)
    if schema.get("type") == "object" and schema.get("additionalProperties") and "maxProperties" not in schema:
        found.append(path)
    for key, value in schema.items():
        if key not in ("$defs", "$ref"):
            found += _unbounded(value, f"{path}.{key}", defs, seen)
    return found


@pytest.mark.parametrize("cls", ALL_MESSAGES, ids=lambda c: c.__name__)
def test_every_list_in_every_message_is_bounded(cls: type[Message]) -> None:
    schema = cls.model_json_schema()
    assert _unbounded(schema, cls.__name__, schema.get("$defs", {}), set()) == []


def test_a_list_over_its_bound_fails_validation() -> None:
    from pydantic import ValidationError

    from contracts import bounds
    from contracts.planning import SalesHistory

    with pytest.raises(ValidationError, match="at most 4000 items"):
        SalesHistory.model_validate_json(
            json.dumps({"product_id": "P", "start_date": "2020-01-01", "daily_units": [1] * (bounds.HISTORY_DAYS + 1)})
        )
