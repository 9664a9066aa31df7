"""Plan results on a real Postgres: forecast, batch, requirement and purchase rows keep their new fields
(quantiles, reasoning, uncertainty) through the worker shell's write and a read."""

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncEngine

from contracts.planning import ForecastLine, IngredientRequirement, ProductionBatch, PurchaseLine, Reasoning
from workers.forecasting.tables import forecasts
from workers.procurement.tables import purchase_lines
from workers.production.tables import batches, requirements
from workers.shell.results import write_drafts

pytestmark = pytest.mark.integration
TODAY = date(2026, 11, 28)


def _reasoning(rule: str) -> Reasoning:
    return Reasoning(rule=rule, facts={"mean": 12.5, "units": 3, "supplier": "S1", "late": False, "sd": None})


RESULTS: list[tuple[Table, list[Any]]] = [
    (
        forecasts,
        [
            ForecastLine(product_id="P1", day=TODAY, units=12.0, p10=8.0, p50=11.5, p90=17.25, model="ets-weekly"),
            ForecastLine(product_id="P2", day=TODAY, units=3.0),
        ],
    ),
    (
        batches,
        [
            ProductionBatch(
                batch_id=str(uuid.uuid4()),
                product_id="P1",
                day=TODAY,
                batches=2,
                units=24,
                oven_minutes=90,
                reason="forecast",
                reasoning=_reasoning("newsvendor"),
            ),
            ProductionBatch(
                batch_id=str(uuid.uuid4()), product_id="P2", day=TODAY, batches=1, units=40, oven_minutes=20, reason="x"
            ),
        ],
    ),
    (
        requirements,
        [
            IngredientRequirement(ingredient_id="I1", day=TODAY, quantity=4.5, quantity_sd=0.75),
            IngredientRequirement(ingredient_id="I2", day=TODAY, quantity=0.1),
        ],
    ),
    (
        purchase_lines,
        [
            PurchaseLine(
                line_id=str(uuid.uuid4()),
                supplier_id="S1",
                ingredient_id="I1",
                order_date=TODAY,
                delivery_date=TODAY + timedelta(days=3),
                quantity=50.0,
                unit_price=0.8,
                late=False,
                reason="reorder",
                reasoning=_reasoning("order-up-to"),
            ),
            PurchaseLine(
                line_id=str(uuid.uuid4()),
                supplier_id="S1",
                ingredient_id="I2",
                order_date=TODAY,
                delivery_date=TODAY + timedelta(days=1),
                quantity=1.0,
                unit_price=3.0,
                late=True,
                reason="late",
            ),
        ],
    ),
]


@pytest.mark.parametrize(("table", "lines"), RESULTS, ids=[t.name for t, _ in RESULTS])
async def test_result_rows_keep_quantiles_reasoning_and_uncertainty(
    engine: AsyncEngine, tenant_id: str, table: Table, lines: list[Any]
) -> None:
    """Rows go in as the worker shell writes them (`write_drafts`: the line's `model_dump()` plus saga,
    tenant, status, one array per column); written again, none is added."""
    saga_id = uuid.uuid4()
    common = {"saga_id": saga_id, "tenant_id": tenant_id, "status": "draft"}
    drafts = [{**common, **line.model_dump()} for line in lines]
    async with engine.begin() as conn:
        assert await write_drafts(conn, table, drafts) == len(lines)
    async with engine.begin() as conn:
        assert await write_drafts(conn, table, drafts) == 0
    fields = list(type(lines[0]).model_fields)
    async with engine.connect() as conn:
        rows = (await conn.execute(select(*(table.c[f] for f in fields)).where(table.c.saga_id == saga_id))).all()
        null_reasoning = (
            (
                await conn.execute(
                    select(table.c.saga_id).where(table.c.saga_id == saga_id, table.c.reasoning.is_(None))
                )
            ).all()
            if "reasoning" in table.c
            else None
        )
    read = sorted((type(lines[0]).model_validate(dict(r._mapping), strict=False) for r in rows), key=repr)
    assert read == sorted(lines, key=repr)
    if null_reasoning is not None:  # no reasoning is SQL NULL, not the JSON literal null
        assert len(null_reasoning) == 1
