"""Write the golden JSON file of every message type's current version that does not exist yet.

    uv run python -m tests.golden.write

Never rewrites an existing file: an old version's golden is what old producers really sent. After a
compatible change (a new field with a default) delete the current version's file and run this; after
a breaking change bump `schema_version`, add the upcaster, and run this for the new version. Every file
of one type describes the same event, so the tests can check that upcasting an old file gives exactly
the current one.
"""

import hashlib
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid5

import orjson

from contracts.envelope import Message, current_version
from contracts.messages import (
    ALL_MESSAGES,
    CancelProductionBatches,
    CountedLot,
    DemandForecasted,
    DiscardForecast,
    ForecastDemand,
    LowStockObserved,
    MasterDataChanged,
    OperationsAlert,
    PlanCompensated,
    PlanningRequested,
    PlanProcurement,
    PlanReady,
    ProcurementPlanned,
    ProductionScheduled,
    SagaFailedAlert,
    SalesDayClosed,
    ScheduleProduction,
    SnapshotTaken,
    SoldLine,
    StepCompensated,
    StepFailed,
    StockCounted,
    VoidPurchaseLines,
)
from contracts.planning import PlanningSnapshot
from contracts.purchasing_messages import (
    CancelReleasedOrders,
    ConfirmedLine,
    GoodsReceived,
    OrderCancelled,
    OrderConfirmed,
    OrderReleased,
    OrderSendFailed,
    OrderSent,
    PurchaseOrdersReleased,
    ReceivedLine,
)
from contracts.step_inputs import release_purchase_orders
from infra.messaging.codec import encode
from lab.synthetic import generate_tenant
from workers.chain import plan_snapshot, release_for_command

HERE = Path(__file__).parent
TENANT = "golden-bakery"
DAY = date(2026, 3, 30)
AT = datetime(2026, 3, 30, 2, 30, tzinfo=UTC)
TRIGGER = UUID("00000000-0000-4000-8000-000000000001")
SAGA = UUID("00000000-0000-4000-8000-000000000002")


def path_of(event_type: str, version: int) -> Path:
    return HERE / f"{event_type}.v{version}.json"


def _small_snapshot() -> PlanningSnapshot:
    """A real synthetic tenant cut down to two products and what they need, so files stay readable."""
    data = generate_tenant(TENANT, profile="small", seed=7, today=DAY, components=True, history_days=21)
    snapshot = data.planning_snapshot(business_date=DAY, horizon_days=3)
    products = snapshot.products[:2]
    keep = {p.product_id for p in products}
    recipes = tuple(r for r in snapshot.recipes if r.product_id in keep)
    component_ids = {c.component_id for r in recipes for c in r.components}
    components = tuple(c for c in snapshot.components if c.component_id in component_ids)
    needed = {line.ingredient_id for r in recipes for line in r.lines} | {
        line.ingredient_id for c in components for line in c.lines
    }
    suppliers = tuple(
        s.model_copy(update={"items": tuple(i for i in s.items if i.ingredient_id in needed)})
        for s in snapshot.suppliers
        if any(i.ingredient_id in needed for i in s.items)
    )
    return snapshot.model_copy(
        update={
            "products": products,
            "recipes": recipes,
            "components": components,
            "ingredients": tuple(i for i in snapshot.ingredients if i.ingredient_id in needed),
            "stock_lots": tuple(lot for lot in snapshot.stock_lots if lot.ingredient_id in needed),
            "suppliers": suppliers,
            "sales": tuple(s for s in snapshot.sales if s.product_id in keep),
            "open_purchase_orders": tuple(o for o in snapshot.open_purchase_orders if o.ingredient_id in needed),
        }
    )


def samples() -> list[Message]:
    """One realistic message of every type, all of one saga."""
    s = _small_snapshot()
    plan = plan_snapshot(s, saga_id=SAGA)
    env: dict[str, Any] = {
        "tenant_id": TENANT,
        "saga_id": SAGA,
        "correlation_id": SAGA,
        "causation_id": TRIGGER,
        "occurred_at": AT,
    }

    def eid(name: str) -> UUID:
        return uuid5(SAGA, name)

    body = orjson.dumps(s.model_dump())
    release = release_purchase_orders(
        s,
        plan.purchase_lines,
        {**env, "event_id": eid("run:release:1")},  # type: ignore[typeddict-item]
        tenant_name="Holtenau Bakery",
        time_zone="Europe/Berlin",
        currency="EUR",
        placed_at=AT,
    )
    released = release_for_command(release)
    order = released.orders[0]
    return [
        PlanningRequested(
            event_id=TRIGGER,
            tenant_id=TENANT,
            occurred_at=AT,
            business_date=DAY,
            source="schedule",
            requested_by="scheduler",
            horizon_days=3,
        ),
        LowStockObserved(
            event_id=uuid5(TRIGGER, "low-stock"),
            tenant_id=TENANT,
            occurred_at=AT,
            ingredient_id=s.ingredients[0].ingredient_id,
            quantity_on_hand=1.5,
            threshold=12.0,
            observed_at=AT,
        ),
        SalesDayClosed(
            event_id=uuid5(TRIGGER, "day-closed"),
            tenant_id=TENANT,
            occurred_at=AT,
            store_id="holtenauer-str",
            business_date=DAY,
            lines=tuple(SoldLine(product_id=p.product_id, units=40 + 7 * n) for n, p in enumerate(s.products)),
            closed_at=AT,
        ),
        StockCounted(
            event_id=uuid5(TRIGGER, "stock-counted"),
            tenant_id=TENANT,
            occurred_at=AT,
            counted_at=AT,
            lots=tuple(
                CountedLot(lot_id=lot.lot_id, ingredient_id=lot.ingredient_id, quantity=lot.quantity, expires_on=None)
                for lot in s.stock_lots[:2]
            ),
            ingredient_ids=tuple(sorted({lot.ingredient_id for lot in s.stock_lots[:2]})),
        ),
        MasterDataChanged(
            event_id=uuid5(TRIGGER, "masterdata-changed"),
            tenant_id=TENANT,
            occurred_at=AT,
            entity="products",
            operation="upsert",
            row={
                "product_id": s.products[0].product_id,
                "name": s.products[0].name,
                "family": s.products[0].family,
                "unit_price": 3.2,
                "unit_cost": 1.1,
                "shelf_life_days": 2,
                "finished_stock_units": 0,
            },
        ),
        SnapshotTaken(event_id=eid("snapshot"), snapshot=s, content_sha256=hashlib.sha256(body).hexdigest(), **env),
        ForecastDemand(
            event_id=eid("run:forecasting:1"),
            business_date=DAY,
            horizon_days=3,
            products=s.products,
            sales=s.sales,
            calendar=s.calendar,
            **env,
        ),
        DemandForecasted(event_id=eid("forecasted"), forecast=plan.forecast, **env),
        ScheduleProduction(
            event_id=eid("run:production:1"),
            business_date=DAY,
            products=s.products,
            recipes=s.recipes,
            forecast=plan.forecast,
            calendar=s.calendar,
            components=s.components,
            capacity=s.capacity,
            **env,
        ),
        ProductionScheduled(event_id=eid("scheduled"), batches=plan.batches, requirements=plan.requirements, **env),
        PlanProcurement(
            event_id=eid("run:procurement:1"),
            business_date=DAY,
            ingredients=s.ingredients,
            stock_lots=s.stock_lots,
            suppliers=s.suppliers,
            requirements=plan.requirements,
            open_purchase_orders=s.open_purchase_orders,
            policy=s.policy.model_copy(update={"planned_at": time(4, 30)}),
            calendar=s.calendar,
            **env,
        ),
        ProcurementPlanned(event_id=eid("planned"), purchase_lines=plan.purchase_lines, **env),
        release,
        PurchaseOrdersReleased(
            event_id=eid("released"), purchase_orders=released.orders, held_lines=released.held, **env
        ),
        CancelReleasedOrders(event_id=eid("compensate:release:1"), attempt=1, **env),
        OrderReleased(event_id=eid(f"order:{order.po_number}:released"), purchase_order=order, **env),
        OrderCancelled(
            event_id=eid(f"order:{order.po_number}:cancelled"),
            po_number=order.po_number,
            supplier_id=order.supplier_id,
            reason="the release timed out and its saga was compensated",
            **env,
        ),
        OrderSendFailed(
            event_id=eid(f"order:{order.po_number}:send_failed:1"),
            po_number=order.po_number,
            supplier_id=order.supplier_id,
            supplier_name=order.supplier_name,
            channel="email orders@mill.example",
            attempts=5,
            permanent=False,
            reason="SMTP relay 127.0.0.1:2525 unreachable: connection refused",
            **env,
        ),
        OrderSent(
            event_id=uuid5(TRIGGER, "order-sent"),
            tenant_id=TENANT,
            occurred_at=AT,
            po_number=order.po_number,
            sent_at=AT,
            channel="email",
            note="to orders@mill.example",
        ),
        OrderConfirmed(
            event_id=uuid5(TRIGGER, "order-confirmed"),
            tenant_id=TENANT,
            occurred_at=AT,
            po_number=order.po_number,
            confirmed_at=AT,
            delivery_date=order.delivery_date,
            lines=(ConfirmedLine(line_id=order.lines[0].line_id, quantity=order.lines[0].quantity / 2),),
            note="half now, the rest next week",
        ),
        GoodsReceived(
            event_id=uuid5(TRIGGER, "goods-received"),
            tenant_id=TENANT,
            occurred_at=AT,
            po_number=order.po_number,
            receipt_id="DN-20260401-7",
            received_at=AT,
            lines=tuple(
                ReceivedLine(line_id=line.line_id, quantity=line.quantity, expires_on=date(2026, 6, 30))
                for line in order.lines
            ),
            note="pallet 2 of 2",
        ),
        StepFailed(
            event_id=eid("failed"),
            step="production",
            reason="oven capacity 480 min < 510 min needed on 2026-03-31",
            **env,
        ),
        DiscardForecast(event_id=eid("compensate:forecasting:1"), attempt=1, **env),
        CancelProductionBatches(event_id=eid("compensate:production:2"), attempt=2, **env),
        VoidPurchaseLines(event_id=eid("compensate:procurement:1"), attempt=1, **env),
        StepCompensated(event_id=eid("compensated"), step="forecasting", affected_rows=6, **env),
        PlanReady(
            event_id=eid("finish:COMPLETED"),
            business_date=DAY,
            batches=len(plan.batches),
            purchase_lines=len(plan.purchase_lines),
            purchase_orders=len(released.orders),
            **env,
        ),
        PlanCompensated(
            event_id=eid("finish:COMPENSATED"), business_date=DAY, reason="production failed: oven capacity", **env
        ),
        SagaFailedAlert(
            event_id=eid("finish:FAILED"),
            reason="compensation of forecasting unanswered after 3 attempts",
            **env,
        ),
        OperationsAlert(
            event_id=eid("alert:outbox_row_parked"),
            kind="outbox_row_parked",
            component="forecasting",
            subject="forecasting.outbox row 42: planning.demand_forecasted on bakeplan.planning.replies",
            reason="Kafka refused it for good (MessageSizeTooLargeError); fix the topic's limits",
            **env,
        ),
    ]


def main() -> None:
    made = {type(m) for m in samples()}
    missing_types = [cls.__name__ for cls in ALL_MESSAGES if cls not in made]
    if missing_types:
        raise SystemExit(f"no sample for {', '.join(missing_types)}: add one to tests/golden/write.py")
    for message in samples():
        target = path_of(message.event_type, current_version(type(message)))
        if target.exists():
            continue
        # the wire bytes exactly as `encode` writes them, indented for review
        target.write_bytes(orjson.dumps(orjson.loads(encode(message)), option=orjson.OPT_INDENT_2) + b"\n")
        print(f"wrote {target.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
