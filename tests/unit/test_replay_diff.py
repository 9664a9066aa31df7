"""Replay's comparison and `explain`, on a synthetic tenant's plan recorded as the saga records it."""

from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid5

import pytest

from contracts.envelope import Message
from contracts.messages import (
    DemandForecasted,
    PlanProcurement,
    ProcurementPlanned,
    ProductionScheduled,
    SnapshotTaken,
    StockFloor,
)
from contracts.purchasing_messages import PurchaseOrdersReleased, ReleasePurchaseOrders
from infra.messaging.codec import decode
from lab.synthetic import generate_tenant
from orchestrator.engine import RunStep
from orchestrator.ports import TenantProfile
from orchestrator.replay import RecordedSaga, collect, diff_lines, purchase_key, replay
from orchestrator.replay_explain import UnknownLineError, explain
from orchestrator.replay_store import expected_commands
from orchestrator.saga import StepResults, to_messages
from tests.golden.write import path_of
from workers.chain import DailyPlan, plan_snapshot, release_for_command
from workers.procurement.replenishment import plan_for_command

pytestmark = pytest.mark.unit
TODAY = date(2026, 11, 28)
SAGA = UUID("0b5e9a1c-7d2f-4e8a-9c61-3f2d8b7a5e10")
NOW = datetime(2026, 11, 28, 4, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def recorded_messages() -> list[Message]:
    """What the archive holds for one completed saga: snapshot, three commands, three replies."""
    tenant = generate_tenant("kiosk", profile="small", seed=3, today=TODAY, components=True)
    snapshot = tenant.planning_snapshot(business_date=TODAY, horizon_days=14)
    plan = plan_snapshot(snapshot, saga_id=SAGA)
    env: dict[str, Any] = {"tenant_id": "kiosk", "saga_id": SAGA, "occurred_at": NOW}

    def eid(name: str) -> UUID:
        return uuid5(SAGA, name)

    forecast = DemandForecasted(event_id=eid("f"), forecast=plan.forecast, **env)
    production = ProductionScheduled(event_id=eid("p"), batches=plan.batches, requirements=plan.requirements, **env)
    procurement = ProcurementPlanned(event_id=eid("q"), purchase_lines=plan.purchase_lines, **env)
    results = StepResults()
    results.record(forecast)
    results.record(production)
    commands = [
        to_messages(
            RunStep(step),
            saga_id=SAGA,
            tenant_id="kiosk",
            business_date=TODAY,
            attempt=1,
            snapshot=snapshot,
            results=results,
            causation_id=SAGA,
            now=NOW,
        )[0].message
        for step in ("forecasting", "production", "procurement")
    ]
    snap = SnapshotTaken(event_id=eid("s"), snapshot=snapshot, content_sha256="a" * 64, **env)
    return [snap, commands[0], forecast, commands[1], production, commands[2], procurement]


@pytest.fixture(scope="module")
def plan(recorded_messages: list[Message]) -> DailyPlan:
    snap = recorded_messages[0]
    assert isinstance(snap, SnapshotTaken)
    return plan_snapshot(snap.snapshot, saga_id=SAGA)


def saga_with(messages: list[Message]) -> RecordedSaga:
    return collect(SAGA, messages)


def test_identical_lines_give_an_empty_diff(plan: DailyPlan) -> None:
    assert plan.purchase_lines, "the synthetic tenant buys something"
    assert diff_lines("purchase_lines", plan.purchase_lines, plan.purchase_lines, purchase_key) == []


def test_a_changed_quantity_a_missing_and_an_extra_line_are_each_named(plan: DailyPlan) -> None:
    first, second, third, *rest = plan.purchase_lines
    changed = replace_line(first, quantity=first.quantity + 5)
    extra = replace_line(third, line_id="extra-line")
    recorded = [first, second, *rest, third]
    replayed = [changed, *rest, third, extra]  # `second` is gone
    diff = {d.key: d for d in diff_lines("purchase_lines", recorded, replayed, purchase_key)}
    assert set(diff) == {first.line_id, second.line_id, "extra-line"}
    assert diff[second.line_id].change == "missing"
    assert diff["extra-line"].change == "added"
    quantity = diff[first.line_id]
    assert [(f.name, f.recorded, f.replayed) for f in quantity.fields] == [
        ("quantity", first.quantity, first.quantity + 5)
    ]
    assert f"quantity: {first.quantity!r} → {first.quantity + 5!r}" in quantity.describe()


def test_a_changed_fact_is_named_by_its_dotted_path(plan: DailyPlan) -> None:
    line = plan.purchase_lines[0]
    assert line.reasoning is not None
    facts = {**line.reasoning.facts, "safety_stock": -1.0}
    changed = line.model_copy(update={"reasoning": line.reasoning.model_copy(update={"facts": facts})})
    (diff,) = diff_lines("purchase_lines", [line], [changed], purchase_key)
    assert [f.name for f in diff.fields] == ["reasoning.facts.safety_stock"]


def replace_line(line: Any, **changes: Any) -> Any:
    return line.model_copy(update=changes)


def test_replay_of_the_recorded_saga_is_identical_and_counts_what_it_compared(
    recorded_messages: list[Message], plan: DailyPlan
) -> None:
    recorded = saga_with(recorded_messages)
    report = replay(recorded, expected_commands=expected_commands(recorded))
    assert report.differences == []
    assert report.identical
    assert report.events == 7
    assert report.compared == {
        "forecast": len(plan.forecast),
        "batches": len(plan.batches),
        "requirements": len(plan.requirements),
        "purchase_lines": len(plan.purchase_lines),
        "commands": 3,
    }


def test_a_tampered_recorded_reply_shows_in_the_replay(recorded_messages: list[Message]) -> None:
    messages = list(recorded_messages)
    procurement = messages[6]
    assert isinstance(procurement, ProcurementPlanned)
    line = procurement.purchase_lines[0]
    doctored = (line.model_copy(update={"quantity": line.quantity * 2}), *procurement.purchase_lines[1:])
    messages[6] = procurement.model_copy(update={"purchase_lines": doctored})
    report = replay(saga_with(messages))
    assert not report.identical
    assert [(d.section, d.key, d.change) for d in report.differences] == [("purchase_lines", line.line_id, "changed")]
    assert [f.name for f in report.differences[0].fields] == ["quantity"]


def test_a_step_command_that_is_not_what_the_saga_builds_is_named(recorded_messages: list[Message]) -> None:
    messages = list(recorded_messages)
    command = messages[5]
    messages[5] = command.model_copy(update={"requirements": ()})
    recorded = saga_with(messages)
    report = replay(recorded, expected_commands=expected_commands(recorded))
    assert [(d.section, d.key) for d in report.differences] == [("commands", "procurement.plan_procurement")]
    assert report.differences[0].fields[0].name == "requirements"


def test_a_saga_that_never_completed_replays_the_steps_it_has(recorded_messages: list[Message]) -> None:
    report = replay(saga_with(recorded_messages[:3]))
    assert report.identical
    assert set(report.compared) == {"forecast"}


def test_without_a_snapshot_nothing_replays_and_that_is_a_difference(recorded_messages: list[Message]) -> None:
    report = replay(saga_with(recorded_messages[1:3]))
    assert not report.identical
    assert report.differences[0].section == "snapshot"


def test_explain_a_purchase_line_gives_its_facts_requirements_batches_and_forecast(
    recorded_messages: list[Message], plan: DailyPlan
) -> None:
    line = plan.purchase_lines[0]
    chain = explain(saga_with(recorded_messages), line.line_id)
    assert chain["line"]["supplier_id"] == line.supplier_id
    assert chain["facts"]["lead time"]["lead_time_days"] == line.reasoning.facts["lead_time_days"]  # type: ignore[union-attr]
    assert "supplier_rank" in chain["facts"]["supplier choice"]
    assert chain["lead_time"]["source"] == "master_data"  # the snapshot has no receipts
    assert chain["lead_time"]["lead_time_days"] == chain["facts"]["lead time"]["lead_time_days"]
    assert {"safety stock", "stock projection", "rounding"} <= chain["facts"].keys()
    covered = {r["day"] for r in chain["requirements"]}
    expected_days = {
        r.day.isoformat()
        for r in plan.requirements
        if r.ingredient_id == line.ingredient_id
        and str(chain["facts"]["stock projection"]["coverage_from"]) <= r.day.isoformat()
        and r.day.isoformat() <= str(chain["facts"]["stock projection"]["coverage_to"])
    }
    assert covered == expected_days
    assert chain["batches"], "some batch needs the ingredient bought"
    products = {b["product_id"] for b in chain["batches"]}
    assert {f["product_id"] for f in chain["forecast"]} <= products
    assert chain["forecast"], "the forecast behind those batches is shown"


def test_explain_a_batch_gives_forecast_reasoning_and_ingredients(
    recorded_messages: list[Message], plan: DailyPlan
) -> None:
    batch = plan.batches[0]
    chain = explain(saga_with(recorded_messages), batch.batch_id)
    assert chain["kind"] == "batch"
    assert [(f["product_id"], f["day"]) for f in chain["forecast"]] == [(batch.product_id, batch.day.isoformat())]
    assert chain["facts"]["batches"] == batch.batches
    assert chain["ingredients"] or chain["components"]


def test_explain_names_things_from_the_recorded_snapshot_and_takes_an_id_prefix(
    recorded_messages: list[Message], plan: DailyPlan
) -> None:
    line, batch = plan.purchase_lines[0], plan.batches[0]
    snapshot = next(m for m in recorded_messages if isinstance(m, SnapshotTaken)).snapshot
    ingredient = next(i for i in snapshot.ingredients if i.ingredient_id == line.ingredient_id)
    supplier = next(s for s in snapshot.suppliers if s.supplier_id == line.supplier_id)
    product = next(p for p in snapshot.products if p.product_id == batch.product_id)

    by_prefix = explain(saga_with(recorded_messages), line.line_id[:8])
    of_batch = explain(saga_with(recorded_messages), batch.batch_id[:8])

    assert by_prefix["line"]["line_id"] == line.line_id
    assert (by_prefix["line"]["ingredient_name"], by_prefix["line"]["unit"]) == (ingredient.name, ingredient.unit)
    assert by_prefix["line"]["supplier_name"] == supplier.name
    assert all(b["product_name"] for b in by_prefix["batches"])
    assert (of_batch["batch"]["batch_id"], of_batch["batch"]["product_name"]) == (batch.batch_id, product.name)
    assert of_batch["batch"]["unit"] == "pcs"
    assert all(i["ingredient_name"] and i["unit"] for i in of_batch["ingredients"])


def test_explain_an_ambiguous_prefix_asks_for_more(recorded_messages: list[Message], plan: DailyPlan) -> None:
    ids = [line.line_id for line in plan.purchase_lines] + [batch.batch_id for batch in plan.batches]
    shared = next(c for c in "0123456789abcdef" if sum(i.startswith(c) for i in ids) > 1)
    with pytest.raises(UnknownLineError, match=rf"'{shared}' starts \d+ ids .*pass more of the id"):
        explain(saga_with(recorded_messages), shared)


def test_explain_an_unknown_line_says_what_to_pass(recorded_messages: list[Message]) -> None:
    with pytest.raises(UnknownLineError, match=r"no purchase line or batch 'nope'.*bakeplan plan-of"):
        explain(saga_with(recorded_messages), "nope")


# --- procurement-only (low-stock) sagas ---------------------------------------------------------------


def low_stock_saga(*, floor: float = 50.0) -> tuple[SnapshotTaken, PlanProcurement]:
    """A recorded low-stock saga's snapshot and command, built from the golden daily command."""
    snapshot = decode(path_of("planning.snapshot_taken", 1).read_bytes())
    daily = decode(path_of("procurement.plan_procurement", 1).read_bytes())
    assert isinstance(snapshot, SnapshotTaken)
    assert isinstance(daily, PlanProcurement)
    s = snapshot.snapshot
    ingredient = s.ingredients[0].ingredient_id
    command = daily.model_copy(
        update={
            "purpose": "low_stock",
            "ingredients": s.ingredients,
            "stock_lots": s.stock_lots,
            "suppliers": s.suppliers,
            "open_purchase_orders": s.open_purchase_orders,
            "policy": s.policy,
            "calendar": s.calendar,
            "requirements": tuple(r for r in daily.requirements if r.ingredient_id == ingredient),
            "stock_floors": (StockFloor(ingredient_id=ingredient, quantity=floor),),
        }
    )
    return snapshot, command


def test_a_low_stock_saga_replays_identical_from_its_recorded_command() -> None:
    snapshot, command = low_stock_saga()
    lines = plan_for_command(command)
    planned = ProcurementPlanned(purchase_lines=lines, **_envelope(command))

    report = replay(collect(command.saga_id or SAGA, [snapshot, command, planned]))

    assert lines, "the floor needs at least one line"
    assert report.identical, [d.describe() for d in report.differences]
    assert report.compared == {"commands": 1, "purchase_lines": len(lines)}


def test_a_low_stock_replay_names_a_changed_line_and_a_command_that_left_the_snapshot() -> None:
    snapshot, command = low_stock_saga()
    lines = plan_for_command(command)
    bumped = lines[0].model_copy(update={"quantity": lines[0].quantity + 1})
    planned = ProcurementPlanned(purchase_lines=(bumped, *lines[1:]), **_envelope(command))
    stale = command.model_copy(update={"stock_lots": command.stock_lots[1:]})

    report = replay(collect(command.saga_id or SAGA, [snapshot, stale, planned]))

    texts = [d.describe() for d in report.differences]
    assert any(t.startswith("commands procurement.plan_procurement.stock_lots") for t in texts), texts
    assert any(f"purchase_lines {bumped.line_id}" in t for t in texts), texts


def _envelope(command: PlanProcurement) -> dict[str, Any]:
    return {
        "event_id": uuid5(command.event_id, "reply"),
        "tenant_id": command.tenant_id,
        "saga_id": command.saga_id,
        "occurred_at": command.occurred_at,
    }


# --- the release (the saga's pivot) ----------------------------------------------------------------


@pytest.fixture(scope="module")
def released_messages(recorded_messages: list[Message]) -> list[Message]:
    """The saga above with its release recorded: the command the saga builds, and the worker's reply."""
    snap, procurement = recorded_messages[0], recorded_messages[6]
    assert isinstance(snap, SnapshotTaken)
    assert isinstance(procurement, ProcurementPlanned)
    results = StepResults(tenant=TenantProfile("Kiosk am Markt", "Europe/Berlin", "EUR"))
    results.record(procurement)
    (out,) = to_messages(
        RunStep("release"),
        saga_id=SAGA,
        tenant_id="kiosk",
        business_date=TODAY,
        attempt=1,
        snapshot=snap.snapshot,
        results=results,
        causation_id=SAGA,
        now=NOW,
    )
    command = out.message
    assert isinstance(command, ReleasePurchaseOrders)
    done = release_for_command(command)
    reply = PurchaseOrdersReleased(
        event_id=uuid5(SAGA, "r"),
        tenant_id="kiosk",
        saga_id=SAGA,
        occurred_at=NOW,
        purchase_orders=done.orders,
        held_lines=done.held,
    )
    return [*recorded_messages, command, reply]


def test_a_recorded_release_replays_identical_and_counts_its_orders(released_messages: list[Message]) -> None:
    recorded = saga_with(released_messages)
    (reply,) = recorded.releases
    report = replay(recorded, expected_commands=expected_commands(recorded))
    assert report.differences == []
    lines = sum(len(o.lines) for o in reply.purchase_orders)
    assert reply.purchase_orders, "05:30 in Berlin is before every cut-off: the due lines go out"
    assert report.compared["commands"] == 4
    assert (report.compared["purchase_orders"], report.compared["purchase_order_lines"]) == (
        len(reply.purchase_orders),
        lines,
    )
    assert lines + report.compared["held_lines"] == report.compared["purchase_lines"]


def test_a_tampered_order_and_a_command_released_at_another_moment_are_named(
    released_messages: list[Message],
) -> None:
    *before, command, reply = released_messages
    assert isinstance(command, ReleasePurchaseOrders)
    assert isinstance(reply, PurchaseOrdersReleased)
    first, *others = reply.purchase_orders
    tampered = reply.model_copy(update={"purchase_orders": (first.model_copy(update={"total": 1.0}), *others)})
    report = replay(saga_with([*before, command, tampered]))
    assert [d.describe() for d in report.differences] == [
        f"purchase_orders {first.po_number}: total: 1.0 → {first.total!r}"
    ]
    # released at 23:00, after every cut-off: not the command the saga built at 04:30, and it holds every line
    late = command.model_copy(update={"placed_at": command.placed_at.replace(hour=23)})
    recorded = saga_with([*before, late, reply])
    texts = [d.describe() for d in replay(recorded, expected_commands=expected_commands(recorded)).differences]
    assert any(t.startswith("commands procurement.release_purchase_orders: placed_at") for t in texts), texts
    assert f"purchase_orders {first.po_number}: missing in the replay" in texts


def test_explain_says_which_order_a_line_went_out_in_or_why_it_waits(released_messages: list[Message]) -> None:
    recorded = saga_with(released_messages)
    (reply,) = recorded.releases
    order = reply.purchase_orders[0]
    line = order.lines[0]
    chain = explain(recorded, line.line_id)
    assert chain["release"] == {
        "outcome": "released",
        "po_number": order.po_number,
        "supplier_name": order.supplier_name,
        "order_date": order.order_date.isoformat(),
        "delivery_date": order.delivery_date.isoformat(),
        "ingredient_name": line.ingredient_name,
        "quantity": line.quantity,
        "unit": line.unit,
        "amount": line.amount,
        "currency": "EUR",
        "released_at": order.released_at.isoformat(),
    }
    held = reply.held_lines[0]
    assert explain(recorded, held.line_id)["release"] == {"outcome": "held", "reason": held.reason, "note": held.note}
    assert explain(saga_with(released_messages[:-2]), line.line_id)["release"] is None
