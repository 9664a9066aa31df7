"""Attacks on tenant binding, on the real broker and processes (docs/security.md, "Tenant binding").

Each forged message is published as an outside client would, with the ids a forger can compute from
the public recipes in `contracts.ids`. Each is parked with its reason, and the victim's real messages
still take effect: its plan completes, its forecasts stay active.
"""

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts import headers as h
from contracts import ids
from contracts.envelope import Message
from contracts.messages import DemandForecasted, DiscardForecast, PlanningRequested
from contracts.planning import ForecastLine
from contracts.topics import Topic
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator.tables import sagas
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, publish, read_topic, seed, wait_terminal
from workers.forecasting import tables as forecasting
from workers.shell.runtime import reply_id

pytestmark = pytest.mark.e2e


def _envelope(message_id: UUID, tenant_id: str, saga_id: UUID | None, causation_id: UUID | None) -> dict[str, Any]:
    return {
        "event_id": message_id,
        "tenant_id": tenant_id,
        "saga_id": saga_id,
        "causation_id": causation_id,
        "correlation_id": saga_id,
        "occurred_at": datetime.now(UTC),
    }


def _daily_trigger(
    tenant_id: str, business_date: date, *, event_id: UUID | None = None, horizon_days: int = 14
) -> PlanningRequested:
    return PlanningRequested(
        event_id=event_id or ids.daily_trigger_id(tenant_id, business_date),
        tenant_id=tenant_id,
        occurred_at=datetime.now(UTC),
        business_date=business_date,
        source="external",
        requested_by="test",
        horizon_days=horizon_days,
    )


async def _send(settings: Settings, topic: Topic, message: Message) -> None:
    await publish(settings, topic, encode(message), key=message.tenant_id.encode())


async def _parked(settings: Settings, event_id: UUID, *, expect: int = 1) -> list[str]:
    """The reasons the dead-letter topic holds for `event_id`, once `expect` are there."""

    def match(record: Any) -> bool:
        try:
            return bool(orjson.loads(record.value).get("event_id") == str(event_id))
        except orjson.JSONDecodeError:
            return False

    records = await read_topic(settings, Topic.DEAD_LETTER, match, timeout_s=60, expect=expect)
    return [dict(r.headers)[h.DLQ_REASON].decode() for r in records]


def _forecast_reply(victim: str, saga_id: UUID, *, tenant_id: str) -> DemandForecasted:
    """A forged forecast for the victim's saga: the very event id the real reply will have."""
    command_id = ids.step_command_id(saga_id, "forecasting", 1)
    line = ForecastLine(product_id="P-FORGED", day=TODAY, units=0.0)
    return DemandForecasted(forecast=(line,), **_envelope(reply_id(command_id, "done"), tenant_id, saga_id, command_id))


async def _forecast_rows(engine: AsyncEngine, saga_id: UUID, tenant_id: str) -> dict[str, int]:
    t = forecasting.forecasts
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(t.c.status, func.count())
            .where(t.c.saga_id == saga_id, t.c.tenant_id == tenant_id)
            .group_by(t.c.status)
        )
        return {str(row[0]): int(row[1]) for row in rows}


async def _activated(engine: AsyncEngine, saga_id: UUID, tenant_id: str) -> int:
    """The count of the saga's active forecast rows, once there are any: the worker activates its drafts
    when plan_ready reaches it, a moment after the saga completes."""

    async def probe() -> int | None:
        return (await _forecast_rows(engine, saga_id, tenant_id)).get("active") or None

    return await eventually(probe, timeout_s=60, what=f"the forecast of {saga_id} active")


async def _sagas_of(engine: AsyncEngine, tenant_id: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(sagas).where(sagas.c.tenant_id == tenant_id))).mappings()]


def _security_events(processes: Processes, role: str, kind: str) -> int:
    """Security-event log lines of `kind` in the role's logs (JSON lines)."""
    count = 0
    for line in processes.log_text(role).splitlines():
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        count += isinstance(entry, dict) and entry.get("security_event") == kind
    return count


async def test_a_forged_reply_for_another_tenants_saga_is_parked_and_the_real_plan_completes(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    victim, mallory = f"{tenant_prefix}-victim", f"{tenant_prefix}-mallory"
    for tenant in (victim, mallory):
        await seed(engine, tenant, profile="tiny")
    trigger = _daily_trigger(victim, TODAY)
    saga_id = ids.saga_id_for_trigger(trigger.event_id)

    # before the saga exists: the forger takes the real reply's id under its own tenant
    early = _forecast_reply(victim, saga_id, tenant_id=mallory)
    await _send(settings, Topic.STEP_REPLIES, early)
    (reason,) = await _parked(settings, early.event_id)
    assert "does not exist" in reason

    await _send(settings, Topic.TRIGGERS, trigger)
    saga = await wait_terminal(engine, saga_id)
    assert saga["status"] == "COMPLETED"
    assert saga["tenant_id"] == victim

    # while the saga exists: another tenant's reply naming it
    late = early.model_copy(update={"event_id": ids.step_command_id(saga_id, "forged", 9)})
    await _send(settings, Topic.STEP_REPLIES, late)
    (reason,) = await _parked(settings, late.event_id)
    assert "belongs to another tenant" in reason
    assert _security_events(processes, "orchestrator", "reply_tenant_mismatch") >= 1
    await _activated(engine, saga_id, victim)
    rows = await _forecast_rows(engine, saga_id, victim)
    assert list(rows) == ["active"]  # the real forecast, activated; nothing of the forged one
    assert await _forecast_rows(engine, saga_id, mallory) == {}


async def test_a_forged_compensation_for_another_tenants_saga_neither_cancels_nor_blocks_it(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    victim, mallory = f"{tenant_prefix}-victim", f"{tenant_prefix}-mallory"
    for tenant in (victim, mallory):
        await seed(engine, tenant, profile="tiny")
    trigger = _daily_trigger(victim, TODAY)
    saga_id = ids.saga_id_for_trigger(trigger.event_id)

    def discard(attempt: int) -> DiscardForecast:
        command_id = ids.compensation_command_id(saga_id, "forecasting", attempt)
        return DiscardForecast(attempt=attempt, **_envelope(command_id, mallory, saga_id, None))

    # sent before the victim's saga: it would have blocked its forecast ("compensated, nothing planned")
    # when compensations were keyed by saga alone; now it is mallory's own row, and its reply is parked
    first = discard(1)
    await _send(settings, Topic.FORECASTING_COMMANDS, first)
    compensated_reply = reply_id(first.event_id, "compensated")
    (reason,) = await _parked(settings, compensated_reply)
    assert "does not exist" in reason

    await _send(settings, Topic.TRIGGERS, trigger)
    assert (await wait_terminal(engine, saga_id))["status"] == "COMPLETED"
    active = await _activated(engine, saga_id, victim)

    # after the victim's saga ran here: the worker refuses it itself
    second = discard(2)
    await _send(settings, Topic.FORECASTING_COMMANDS, second)
    (reason,) = await _parked(settings, second.event_id)
    assert "is another tenant's" in reason
    assert await _forecast_rows(engine, saga_id, victim) == {"active": active}
    assert _security_events(processes, "forecasting", "saga_tenant_mismatch") >= 1


async def test_a_pre_empting_trigger_id_is_parked_and_the_real_trigger_plans(
    settings: Settings, engine: AsyncEngine, processes: Processes, tenant_prefix: str
) -> None:
    victim, mallory = f"{tenant_prefix}-victim", f"{tenant_prefix}-mallory"
    for tenant in (victim, mallory):
        await seed(engine, tenant, profile="tiny")
    real = _daily_trigger(victim, TODAY)

    # another tenant's trigger under the victim's day id: it would have taken the victim's saga id
    pre_empting = _daily_trigger(mallory, TODAY, event_id=real.event_id)
    await _send(settings, Topic.TRIGGERS, pre_empting)
    (reason,) = await _parked(settings, real.event_id)
    assert "neither the day's" in reason

    await _send(settings, Topic.TRIGGERS, real)
    saga_id = ids.saga_id_for_trigger(real.event_id)
    assert (await wait_terminal(engine, saga_id))["status"] == "COMPLETED"

    # the same id and tenant with other content: parked, not taken for a duplicate
    other_content = _daily_trigger(victim, TODAY, horizon_days=3)
    await _send(settings, Topic.TRIGGERS, other_content)
    reasons = await _parked(settings, real.event_id, expect=2)
    assert any("already taken with other content" in r for r in reasons)
    assert [s["saga_id"] for s in await _sagas_of(engine, victim)] == [saga_id]
    assert await _sagas_of(engine, mallory) == []
    assert _security_events(processes, "orchestrator", "inbox_conflict") >= 1


async def test_a_stale_trigger_is_parked_with_the_window_in_its_reason(
    settings: Settings, engine: AsyncEngine, tenant_prefix: str
) -> None:
    victim = f"{tenant_prefix}-victim"
    await seed(engine, victim, profile="tiny")
    local_today = datetime.now(UTC).date()
    stale = _daily_trigger(victim, TODAY - timedelta(days=30))
    ahead = _daily_trigger(victim, local_today + timedelta(days=60))
    for message in (stale, ahead):
        await _send(settings, Topic.TRIGGERS, message)
    (stale_reason,) = await _parked(settings, stale.event_id)
    (ahead_reason,) = await _parked(settings, ahead.event_id)
    assert "days in the past" in stale_reason
    assert "BAKEPLAN_TRIGGER_MAX_PAST_DAYS" in stale_reason
    assert "days ahead" in ahead_reason

    real = _daily_trigger(victim, TODAY)
    await _send(settings, Topic.TRIGGERS, real)
    assert (await wait_terminal(engine, ids.saga_id_for_trigger(real.event_id)))["status"] == "COMPLETED"
    assert len(await _sagas_of(engine, victim)) == 1
