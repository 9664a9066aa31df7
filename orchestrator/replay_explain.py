"""`bakeplan explain`: the chain of recorded facts behind one purchase line or production batch.

Pure: it reads a saga's recorded messages (`orchestrator.replay.RecordedSaga`) and returns plain
data (JSON-ready dicts); the CLI prints it. Everything comes from what the saga recorded: the
snapshot, the forecast, the production reply (batches and requirements), the procurement reply and
the release step's reply (the purchase order a line went out in, or why it was held back).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from contracts.planning import (
    Component,
    Fact,
    ForecastLine,
    IngredientRequirement,
    PlanningSnapshot,
    ProductionBatch,
    PurchaseLine,
    Recipe,
)
from orchestrator.replay import RecordedSaga

# How a purchase line's facts (workers/procurement) group for a reader; unlisted facts go to "other".
FACT_GROUPS: dict[str, tuple[str, ...]] = {
    "lead time": (
        "lead_time_days",
        "sd_lt_days",
        "protection_days",
        "sd_lt_with_delivery_risk_days",
        "earliest_delivery",
        "late",
        "backlog",
        "lead_time_source",
        "lead_time_receipts",
        "master_lead_time_days",
        "master_sd_lt_days",
        "observed_lead_time_mean_days",
        "observed_lead_time_sd_days",
        "learned_lead_time_mean_days",
        "master_on_time_rate",
        "learned_on_time_rate",
        "receipts_from",
        "receipts_to",
    ),
    "supplier choice": (
        "supplier_rank",
        "supplier_score",
        "unit_price",
        "price_tier_min_quantity",
        "max_quantity",
        "max_cap_binding",
        "uncovered_quantity",
        "dual_source_part",
        "order_value",
        "min_order_value",
        "below_min_order_value",
        "pulled_forward_from",
    ),
    "safety stock": ("safety_stock", "safety_stock_method", "z", "mean_demand_per_day", "sd_d"),
    "stock projection": (
        "need_date",
        "need",
        "projected_stock_before",
        "coverage_from",
        "coverage_to",
        "consolidated_days",
        "shelf_life_days",
        "shelf_life_source",
        "shelf_life_cap",
        "shelf_life_cap_exceeded",
        "expected_waste",
    ),
    "rounding": ("raw_quantity", "moq", "moq_applied", "pack_size", "packs", "min_order_topup_packs", "quantity"),
}


class UnknownLineError(LookupError):
    """The saga has no purchase line or batch with that id; the message lists what it has."""


def group_facts(facts: dict[str, Fact]) -> dict[str, dict[str, Fact]]:
    """Facts by group, in `FACT_GROUPS` order; groups with no facts are left out."""
    grouped: dict[str, dict[str, Fact]] = {}
    placed: set[str] = set()
    for group, names in FACT_GROUPS.items():
        present = {name: facts[name] for name in names if name in facts}
        placed |= present.keys()
        if present:
            grouped[group] = present
    other = {name: value for name, value in facts.items() if name not in placed}
    if other:
        grouped["other"] = other
    return grouped


def lead_time_source(snapshot: PlanningSnapshot, line: PurchaseLine, facts: dict[str, Fact]) -> dict[str, Fact]:
    """Where the line's lead time came from (docs/learning.md): `learned` from the supplier's receipts
    in the snapshot (how many, their mean and spread, the on-time rate), or `master_data` as is."""
    if facts.get("lead_time_source") == "learned":
        return {
            "source": "learned",
            "lead_time_days": facts.get("lead_time_days"),
            "sd_lt_days": facts.get("sd_lt_days"),
            "receipts": facts.get("lead_time_receipts"),
            "mean_days": facts.get("learned_lead_time_mean_days"),
            "observed_mean_days": facts.get("observed_lead_time_mean_days"),
            "observed_sd_days": facts.get("observed_lead_time_sd_days"),
            "on_time_rate": facts.get("learned_on_time_rate"),
            "master_lead_time_days": facts.get("master_lead_time_days"),
            "master_on_time_rate": facts.get("master_on_time_rate"),
        }
    supplier = next((s for s in snapshot.suppliers if s.supplier_id == line.supplier_id), None)
    item = (
        None if supplier is None else next((i for i in supplier.items if i.ingredient_id == line.ingredient_id), None)
    )
    return {
        "source": "master_data",
        "lead_time_days": facts.get("lead_time_days", None if item is None else item.lead_time_days),
        "sd_lt_days": facts.get("sd_lt_days", None if item is None else item.lead_time_sd_days),
        "receipts": 0,
        "on_time_rate": None if supplier is None else supplier.on_time_rate,
    }


def explain(recorded: RecordedSaga, line_id: str) -> dict[str, Any]:
    """The chain behind purchase line or batch `line_id` of the recorded saga.

    `line_id` may be the first characters of an id when they name one line or batch only. Names and
    units come from the recorded snapshot (the names the plan was made with); products are in pieces.
    Raises `UnknownLineError` naming the saga and a few ids it does have."""
    lines = recorded.procurements[-1].purchase_lines if recorded.procurements else ()
    batches = recorded.schedules[-1].batches if recorded.schedules else ()
    if recorded.snapshot is None:
        raise UnknownLineError(f"saga {recorded.saga_id} has no recorded snapshot: nothing to explain")
    snapshot = recorded.snapshot.snapshot
    for line in lines:
        if line.line_id == line_id:
            return _explain_purchase(recorded, snapshot, line)
    for batch in batches:
        if batch.batch_id == line_id:
            return _explain_batch(recorded, snapshot, batch)
    # the tables people read show the first characters of an id: a prefix naming one line is that line
    matches = [line for line in lines if line.line_id.startswith(line_id)]
    batch_matches = [batch for batch in batches if batch.batch_id.startswith(line_id)]
    if line_id and len(matches) + len(batch_matches) == 1:
        if matches:
            return _explain_purchase(recorded, snapshot, matches[0])
        return _explain_batch(recorded, snapshot, batch_matches[0])
    if line_id and len(matches) + len(batch_matches) > 1:
        found = [line.line_id for line in matches] + [batch.batch_id for batch in batch_matches]
        raise UnknownLineError(
            f"saga {recorded.saga_id}: {line_id!r} starts {len(found)} ids ({', '.join(found[:4])}); "
            "pass more of the id to --line"
        )
    examples = [f"purchase line {line.line_id}" for line in lines[:2]] + [f"batch {b.batch_id}" for b in batches[:2]]
    raise UnknownLineError(
        f"saga {recorded.saga_id} has no purchase line or batch {line_id!r}; it recorded {len(lines)} purchase "
        f"lines and {len(batches)} batches"
        + (f" (e.g. {', '.join(examples)})" if examples else "")
        + f"; list them with `bakeplan plan-of {recorded.saga_id}` and pass one id to --line"
    )


@dataclass(frozen=True)
class Names:
    """What the snapshot calls each product, ingredient, component and supplier, and their units."""

    products: dict[str, str]
    ingredients: dict[str, tuple[str, str]]
    components: dict[str, tuple[str, str]]
    suppliers: dict[str, str]

    @classmethod
    def of(cls, snapshot: PlanningSnapshot) -> "Names":
        return cls(
            products={p.product_id: p.name for p in snapshot.products},
            ingredients={i.ingredient_id: (i.name, i.unit) for i in snapshot.ingredients},
            components={c.component_id: (c.name, c.unit) for c in snapshot.components},
            suppliers={s.supplier_id: s.name for s in snapshot.suppliers},
        )

    def ingredient(self, ingredient_id: str) -> dict[str, str | None]:
        name, unit = self.ingredients.get(ingredient_id, (None, None))
        return {"ingredient_name": name, "unit": unit}


def _forecast(recorded: RecordedSaga) -> tuple[ForecastLine, ...]:
    return recorded.forecasts[-1].forecast if recorded.forecasts else ()


def _requirements(recorded: RecordedSaga) -> tuple[IngredientRequirement, ...]:
    return recorded.schedules[-1].requirements if recorded.schedules else ()


def _forecast_json(line: ForecastLine, names: Names) -> dict[str, Any]:
    return {
        "product_id": line.product_id,
        "product_name": names.products.get(line.product_id),
        "day": line.day.isoformat(),
        "units": line.units,
        "p10": line.p10,
        "p50": line.p50,
        "p90": line.p90,
        "model": line.model,
    }


def _batch_json(batch: ProductionBatch, names: Names) -> dict[str, Any]:
    return {
        "batch_id": batch.batch_id,
        "product_id": batch.product_id,
        "product_name": names.products.get(batch.product_id),
        "day": batch.day.isoformat(),
        "batches": batch.batches,
        "units": batch.units,
    }


def _uses(snapshot: PlanningSnapshot, ingredient_id: str) -> dict[str, int]:
    """Products whose recipe needs the ingredient, directly or through components, each with the
    most days ahead of baking the ingredient is used (a component made ahead needs it earlier)."""
    components = {c.component_id: c for c in snapshot.components}

    def ahead(lines: Iterable[Any], parts: Iterable[Any], seen: frozenset[str]) -> int | None:
        best: int | None = 0 if any(line.ingredient_id == ingredient_id for line in lines) else None
        for part in parts:
            component: Component | None = components.get(part.component_id)
            if component is None or component.component_id in seen:
                continue
            inner = ahead(component.lines, component.components, seen | {component.component_id})
            if inner is not None:
                total = inner + component.made_days_ahead
                best = total if best is None else max(best, total)
        return best

    uses: dict[str, int] = {}
    for recipe in snapshot.recipes:
        days = ahead(recipe.lines, recipe.components, frozenset())
        if days is not None:
            uses[recipe.product_id] = days
    return uses


def _explain_purchase(recorded: RecordedSaga, snapshot: PlanningSnapshot, line: PurchaseLine) -> dict[str, Any]:
    facts = dict(line.reasoning.facts) if line.reasoning else {}
    first = _fact_date(facts.get("coverage_from")) or line.delivery_date
    last = _fact_date(facts.get("coverage_to")) or first
    requirements = [
        r for r in _requirements(recorded) if r.ingredient_id == line.ingredient_id and first <= r.day <= last
    ]
    uses = _uses(snapshot, line.ingredient_id)
    batches = [
        b
        for b in (recorded.schedules[-1].batches if recorded.schedules else ())
        if b.product_id in uses and first <= b.day - timedelta(days=uses[b.product_id]) <= last
    ]
    batch_days = {(b.product_id, b.day) for b in batches}
    forecast = [f for f in _forecast(recorded) if (f.product_id, f.day) in batch_days]
    names = Names.of(snapshot)
    return {
        "saga_id": str(recorded.saga_id),
        "tenant_id": recorded.tenant_id,
        "kind": "purchase_line",
        "line": {
            "line_id": line.line_id,
            "supplier_id": line.supplier_id,
            "supplier_name": names.suppliers.get(line.supplier_id),
            "ingredient_id": line.ingredient_id,
            **names.ingredient(line.ingredient_id),
            "order_date": line.order_date.isoformat(),
            "delivery_date": line.delivery_date.isoformat(),
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "late": line.late,
            "reason": line.reason,
            "rule": line.reasoning.rule if line.reasoning else None,
        },
        "lead_time": lead_time_source(snapshot, line, facts),
        "facts": group_facts(facts),
        "requirements": [
            {"day": r.day.isoformat(), "quantity": r.quantity, "quantity_sd": r.quantity_sd} for r in requirements
        ],
        "batches": [_batch_json(b, names) for b in batches],
        "forecast": [_forecast_json(f, names) for f in forecast],
        "release": _release(recorded, line.line_id),
    }


def _release(recorded: RecordedSaga, line_id: str) -> dict[str, Any] | None:
    """What the saga's release did with the line: the order it went out in, or why it was held; None
    when the saga recorded no release (it did not get that far, or it ran before releases existed)."""
    if not recorded.releases:
        return None
    released = recorded.releases[-1]
    for order in released.purchase_orders:
        for line in order.lines:
            if line.line_id == line_id:
                return {
                    "outcome": "released",
                    "po_number": order.po_number,
                    "supplier_name": order.supplier_name,
                    "order_date": order.order_date.isoformat(),
                    "delivery_date": order.delivery_date.isoformat(),
                    "ingredient_name": line.ingredient_name,
                    "quantity": line.quantity,
                    "unit": line.unit,
                    "amount": line.amount,
                    "currency": order.currency,
                    "released_at": order.released_at.isoformat(),
                }
    for held in released.held_lines:
        if held.line_id == line_id:
            return {"outcome": "held", "reason": held.reason, "note": held.note}
    return None


def _explain_batch(recorded: RecordedSaga, snapshot: PlanningSnapshot, batch: ProductionBatch) -> dict[str, Any]:
    recipe: Recipe | None = next((r for r in snapshot.recipes if r.product_id == batch.product_id), None)
    names = Names.of(snapshot)
    ingredients = [
        {
            "ingredient_id": line.ingredient_id,
            **names.ingredient(line.ingredient_id),
            "quantity": round(line.quantity_per_batch * batch.batches, 6),
        }
        for line in (recipe.lines if recipe else ())
    ]
    components = [
        {
            "component_id": part.component_id,
            "component_name": names.components.get(part.component_id, (None, None))[0],
            "unit": names.components.get(part.component_id, (None, None))[1],
            "quantity": round(part.quantity_per_batch * batch.batches, 6),
        }
        for part in (recipe.components if recipe else ())
    ]
    forecast = [f for f in _forecast(recorded) if f.product_id == batch.product_id and f.day == batch.day]
    return {
        "saga_id": str(recorded.saga_id),
        "tenant_id": recorded.tenant_id,
        "kind": "batch",
        "batch": {
            **_batch_json(batch, names),
            "unit": "pcs",
            "oven_minutes": batch.oven_minutes,
            "reason": batch.reason,
        },
        "forecast": [_forecast_json(f, names) for f in forecast],
        "facts": dict(batch.reasoning.facts) if batch.reasoning else {},
        "rule": batch.reasoning.rule if batch.reasoning else None,
        "ingredients": ingredients,
        "components": components,
    }


def _fact_date(value: Fact) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None
