"""A plan on one screen (`bakeplan demo`): what it bakes per day, what it orders per supplier, what is
late, what may be wasted, and the ten purchase lines that matter most. Pure: it reads the rows of
`run_views.plan_of` and returns plain values and rich renderables.

The ten most important lines: late lines first (their latest order date has passed, so someone must
act today), then by value (quantity × unit price, the money at stake), then by order date and id so
the order is total and the same plan always shows the same ten.

Expected waste is what the procurement reasoning recorded: a line sized past its ingredient's
shelf-life cap records `expected_waste` (in the ingredient's unit); valued at its unit price. Lines
planned before the reasoning existed count as none.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from bakeplan.cli.amounts import PIECES, line_value, money, named, number, purchase_text, quantity
from bakeplan.cli.plan_tables import COMPACT, folding_table, short_id

TOP_LINES = 10


@dataclass(frozen=True)
class DayLoad:
    day: date
    batches: int
    pieces: int
    oven_minutes: int


@dataclass(frozen=True)
class SupplierOrders:
    supplier_id: str
    name: str
    lines: int
    total: float
    first_order: date


@dataclass(frozen=True)
class Digest:
    currency: str
    days: tuple[DayLoad, ...]
    suppliers: tuple[SupplierOrders, ...]
    late: tuple[Mapping[str, Any], ...]
    waste: tuple[tuple[Mapping[str, Any], float], ...]
    """Lines with expected waste, each with the wasted quantity (ingredient unit)."""
    top: tuple[Mapping[str, Any], ...]

    @property
    def batches(self) -> int:
        return sum(d.batches for d in self.days)

    @property
    def pieces(self) -> int:
        return sum(d.pieces for d in self.days)

    @property
    def lines(self) -> int:
        return sum(s.lines for s in self.suppliers)

    @property
    def total(self) -> float:
        return sum(s.total for s in self.suppliers)

    @property
    def waste_value(self) -> float:
        return sum(wasted * float(line["unit_price"]) for line, wasted in self.waste)


def importance(line: Mapping[str, Any]) -> tuple[bool, float, str, str]:
    """Sort key of a purchase line, most important first: late, then value, then order date and id."""
    return (not line["late"], -line_value(line), str(line["order_date"]), str(line["line_id"]))


def most_important(lines: Iterable[Mapping[str, Any]], n: int = TOP_LINES) -> list[Mapping[str, Any]]:
    """The `n` most important purchase lines (see the module docstring), most important first."""
    return sorted(lines, key=importance)[:n]


def expected_waste(line: Mapping[str, Any]) -> float:
    """The waste the line's reasoning expects, in the ingredient's unit; 0 when it records none."""
    facts = (line.get("reasoning") or {}).get("facts") or {}
    wasted = facts.get("expected_waste")
    return float(wasted) if isinstance(wasted, int | float) and not isinstance(wasted, bool) else 0.0


def digest(plan: Mapping[str, Any]) -> Digest:
    """The plan (`run_views.plan_of`'s dict) summed per day and per supplier, with the late lines, the
    lines expecting waste and the ten most important lines."""
    days: dict[date, list[int]] = {}
    for b in plan["batches"]:
        load = days.setdefault(b["day"], [0, 0, 0])
        load[0] += int(b["batches"])
        load[1] += int(b["units"])
        load[2] += int(b["oven_minutes"])
    suppliers: dict[str, SupplierOrders] = {}
    for p in plan["purchase_lines"]:
        seen = suppliers.get(p["supplier_id"])
        suppliers[p["supplier_id"]] = SupplierOrders(
            supplier_id=p["supplier_id"],
            name=named(p.get("supplier_name"), p["supplier_id"]),
            lines=(seen.lines if seen else 0) + 1,
            total=(seen.total if seen else 0.0) + line_value(p),
            first_order=min(seen.first_order, p["order_date"]) if seen else p["order_date"],
        )
    lines = plan["purchase_lines"]
    return Digest(
        currency=plan["currency"],
        days=tuple(DayLoad(day, *load) for day, load in sorted(days.items())),
        suppliers=tuple(sorted(suppliers.values(), key=lambda s: (-s.total, s.supplier_id))),
        late=tuple(p for p in lines if p["late"]),
        waste=tuple((p, w) for p in lines if (w := expected_waste(p)) > 0),
        top=tuple(most_important(lines)),
    )


def _compact(*headers: str, title: str, right: Sequence[str] = ()) -> Table:
    return folding_table(*headers, title=title, right=right, title_justify="left", **COMPACT)


def summary_lines(d: Digest) -> list[Text]:
    """The plan in three sentences: what it bakes, what it buys, what is late and what may be wasted."""
    buys = (
        f"buys {number(d.lines)} purchase lines from {len(d.suppliers)} suppliers for {money(d.total, d.currency)}"
        if d.lines
        else "buys nothing"
    )
    late = f"{len(d.late)} late line{'s' if len(d.late) != 1 else ''} (order today)" if d.late else "no late lines"
    if d.waste:
        shown = [f"{quantity(w, line.get('unit'))} {named(line.get('ingredient_name'), line['ingredient_id'])}"
                 for line, w in d.waste[:3]]  # fmt: skip
        wasted = "; ".join(shown) + (f" and {len(d.waste) - 3} more" if len(d.waste) > 3 else "")
        waste = f"expected waste {money(d.waste_value, d.currency)} ({wasted})"
    else:
        waste = "no expected waste (no line exceeds its ingredient's shelf life)"
    return [
        Text(f"bakes {number(d.batches)} batches, {number(d.pieces)} {PIECES} on {len(d.days)} days; {buys}"),
        Text(f"{late}; {waste}"),
    ]


def days_table(d: Digest) -> Table:
    table = _compact("day", "batches", PIECES, "oven min", title="production batches per day", right=(
        "batches", PIECES, "oven min"))  # fmt: skip
    for load in d.days:
        table.add_row(f"{load.day:%a %Y-%m-%d}", str(load.batches), number(load.pieces), number(load.oven_minutes))
    return table


def suppliers_table(d: Digest) -> Table:
    table = _compact("supplier", "lines", "total", title="purchase lines per supplier", right=("lines", "total"))
    for s in d.suppliers:
        table.add_row(Text(s.name), str(s.lines), money(s.total, d.currency))
    return table


def top_table(d: Digest) -> Table:
    table = _compact(
        "#", "order", "delivery", "purchase", "value", "late", "id",
        title=f"the {len(d.top)} most important purchase lines (late first, then by value)", right=("#", "value"),
    )  # fmt: skip
    for n, line in enumerate(d.top, 1):
        table.add_row(
            str(n),
            f"{line['order_date']}",
            f"{line['delivery_date']}",
            Text(purchase_text(line)),
            money(line_value(line), d.currency),
            "LATE" if line["late"] else "",
            short_id(str(line["line_id"])),
        )
    return table


def side_by_side(left: RenderableType, right: RenderableType) -> Table:
    grid = Table.grid(padding=(0, 3))
    grid.add_column()
    grid.add_column()
    grid.add_row(left, right)
    return grid


def next_commands(saga_id: str, d: Digest, example_line: str | None) -> Text:
    """The commands that show the rest of the plan."""
    commands = [(f"bakeplan plan-of {saga_id}", "all batches and lines")]
    if example_line:
        commands.append((f"bakeplan explain {saga_id} --line {short_id(example_line)}", "why that line exists"))
    commands.append((f"bakeplan show {saga_id} --json", "every id and time"))
    width = max(len(c) for c, _ in commands)
    return Text("more:\n" + "\n".join(f"  {c.ljust(width)}  # {why}" for c, why in commands))


def screen(saga_id: str, plan: Mapping[str, Any]) -> Group:
    """The plan's summary, its per-day and per-supplier tables, its ten most important lines, and the
    commands that show the rest."""
    d = digest(plan)
    example = str(d.top[0]["line_id"]) if d.top else None
    parts: list[RenderableType] = [*summary_lines(d), side_by_side(days_table(d), suppliers_table(d))]
    if d.top:
        parts.append(top_table(d))
    parts.append(next_commands(saga_id, d, example))
    return Group(*parts)
