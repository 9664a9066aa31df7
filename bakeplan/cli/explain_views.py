"""What `bakeplan explain` prints: the chain behind a purchase line or batch, by name, with units and
money in the tenant's currency. The chain is `orchestrator.replay_explain.explain`'s JSON (names from
the recorded snapshot) plus `tenant_name` and `currency` (the tenant's current master data)."""

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bakeplan.cli.amounts import PIECES, batch_text, money, named, purchase_text, quantity, tenant_label
from bakeplan.cli.plan_tables import folding_table


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _tenant(chain: dict[str, Any]) -> str:
    return tenant_label(chain["tenant_id"], chain.get("tenant_name"))


def _forecast_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = folding_table("product", "day", f"{PIECES} forecast", "p10", "p50", "p90", "model", title=title)
    for f in rows:
        table.add_row(
            Text(named(f.get("product_name"), f["product_id"])),
            *(_cell(f[k]) for k in ("day", "units", "p10", "p50", "p90", "model")),
        )
    return table


def lead_time_text(lead: dict[str, Any] | None, supplier: str) -> str:
    """One line on where the lead time came from (docs/learning.md)."""
    if not lead:
        return ""
    if lead["source"] != "learned":
        return f"\n  lead time {lead['lead_time_days']} d (σ {_cell(lead['sd_lt_days'])} d): master data of {supplier}"
    return (
        f"\n  lead time {lead['lead_time_days']} d (σ {_cell(lead['sd_lt_days'])} d): learned from"
        f" {lead['receipts']} receipt(s) of {supplier}: mean {_cell(lead['mean_days'])} d"
        f" (observed {_cell(lead['observed_mean_days'])} d, σ {_cell(lead['observed_sd_days'])} d),"
        f" on time {_cell(lead['on_time_rate'])}; master data said {lead['master_lead_time_days']} d,"
        f" on time {_cell(lead['master_on_time_rate'])}"
    )


def print_purchase(console: Console, chain: dict[str, Any]) -> None:
    line = {**chain["line"], "currency": chain["currency"]}
    unit = line.get("unit")
    ingredient = named(line.get("ingredient_name"), line["ingredient_id"])
    console.print(
        Text(
            f"purchase line {line['line_id']} (saga {chain['saga_id']}, {_tenant(chain)})\n"
            f"  {purchase_text(line)} = {money(line['quantity'] * line['unit_price'], chain['currency'])}:"
            f" order {line['order_date']}, delivery {line['delivery_date']}"
            + (" — LATE" if line["late"] else "")
            + f"\n  rule {line['rule']}: {line['reason']}"
            + lead_time_text(chain.get("lead_time"), line.get("supplier_name") or line["supplier_id"])
            + _release_text(chain.get("release"))
        ),
        soft_wrap=True,
    )
    facts = folding_table("group", "fact", "value", title=f"reasoning (quantities in {unit or 'units'})")
    for group, values in chain["facts"].items():
        for i, (name, value) in enumerate(values.items()):
            facts.add_row(group if i == 0 else "", name, _cell(value))
    console.print(facts)
    requirements = folding_table(
        "day", f"quantity ({unit or 'units'})", "sd", title=f"requirements of {ingredient} it covers"
    )
    for r in chain["requirements"]:
        requirements.add_row(r["day"], _cell(r["quantity"]), _cell(r["quantity_sd"]))
    console.print(requirements)
    batches = folding_table(
        "batch", "product", "day", "batches", PIECES, title=f"batches whose recipes need {ingredient}"
    )
    for b in chain["batches"]:
        batches.add_row(
            b["batch_id"],
            Text(named(b.get("product_name"), b["product_id"])),
            b["day"],
            str(b["batches"]),
            str(b["units"]),
        )
    console.print(batches)
    console.print(_forecast_table(chain["forecast"], "forecast of those products and days"))


def print_batch(console: Console, chain: dict[str, Any]) -> None:
    batch = chain["batch"]
    console.print(
        Text(
            f"batch {batch['batch_id']} (saga {chain['saga_id']}, {_tenant(chain)})\n"
            f"  {batch_text(batch)} on {batch['day']}"
            f"\n  rule {chain['rule']}: {batch['reason']}"
        ),
        soft_wrap=True,
    )
    console.print(_forecast_table(chain["forecast"], "forecast"))
    facts = folding_table("fact", "value", title=f"reasoning (units in {PIECES})")
    for name, value in chain["facts"].items():
        facts.add_row(name, _cell(value))
    console.print(facts)
    needs = folding_table("ingredient or component", "quantity", title="what it needs")
    for item in chain["ingredients"]:
        needs.add_row(
            Text(named(item.get("ingredient_name"), item["ingredient_id"])),
            quantity(item["quantity"], item.get("unit")),
        )
    for item in chain["components"]:
        needs.add_row(
            Text(f"{named(item.get('component_name'), item['component_id'])} (component)"),
            quantity(item["quantity"], item.get("unit")),
        )
    console.print(needs)


def _release_text(release: dict[str, Any] | None) -> str:
    """Which purchase order the line went out in, or why it was held (docs/orders.md)."""
    if release is None:
        return ""
    if release["outcome"] == "held":
        return f"\n  not ordered yet: {release['note']}"
    r = release
    return (
        f"\n  ordered in {r['po_number']} to {r['supplier_name']}:"
        f" {r['quantity']:g} {r['unit']} {r['ingredient_name']},"
        f" {r['amount']:,.2f} {r['currency']}, delivery {r['delivery_date']}"
    )
