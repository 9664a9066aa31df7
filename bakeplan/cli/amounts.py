"""How a person reads amounts: quantities with their unit, money with its currency, things by name.

Pure text. Every command that prints a plan for people goes through these, so "40 kg Rye flour type
1150 from Mühle Nord at 2.44 EUR/kg" reads the same in `plan-of`, `explain`, `demo` and `plan`.
Ids stay in `--json` (and in the columns that a command takes as input, such as `--line`).
"""

from collections.abc import Mapping
from typing import Any

PIECES = "pcs"
"""Products are counted in pieces; ingredients and components carry their own unit (kg, l, pcs)."""


def number(value: float) -> str:
    """`value` with thousands separators and at most three decimals, trailing zeros dropped; a non-zero
    value below 1 keeps three significant digits instead, so 0.0004 kg does not read as 0."""
    if value != 0 and abs(value) < 1:
        text = f"{value:.3g}"
        if "e" in text:  # below 0.0001: positional digits, never an exponent
            text = f"{value:.12f}".rstrip("0")
        return text
    text = f"{value:,.3f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def quantity(value: float, unit: str | None) -> str:
    """`40 kg`, `2.5 l`, `120 pcs`; a quantity whose unit is no longer known reads `40 units`."""
    return f"{number(value)} {unit or 'units'}"


def money(amount: float, currency: str) -> str:
    """`1,234.50 EUR`: always two decimals, the ISO 4217 code after the amount."""
    return f"{amount:,.2f} {currency}"


def unit_price(price: float, currency: str, unit: str | None) -> str:
    """`2.44 EUR/kg`: two decimals, more when two would leave fewer than two significant digits
    (`0.0042 EUR/pcs`, not `0.00 EUR/pcs`)."""
    shown = f"{price:,.2f}" if price == 0 or abs(price) >= 0.1 else f"{price:.2g}"
    if "e" in shown:
        shown = f"{price:.12f}".rstrip("0")
    return f"{shown} {currency}/{unit or 'unit'}"


def named(name: str | None, item_id: str) -> str:
    """The name a person knows a thing by; its id when the name is gone (a row removed since)."""
    return name if name else item_id


def tenant_label(tenant_id: str, name: str | None) -> str:
    """`Mill Lane Bakery (demo-001)`: the name people know and the id commands take; the id alone for
    a tenant without a name (or removed since)."""
    return f"{name} ({tenant_id})" if name and name != tenant_id else tenant_id


def purchase_text(line: Mapping[str, Any]) -> str:
    """One purchase line in words, from a row with the read model's fields (`quantity`, `unit`,
    `ingredient_name`, `ingredient_id`, `supplier_name`, `supplier_id`, `unit_price`, `currency`):
    `40 kg Rye flour type 1150 from Mühle Nord at 2.44 EUR/kg`."""
    return (
        f"{quantity(line['quantity'], line.get('unit'))} {named(line.get('ingredient_name'), line['ingredient_id'])}"
        f" from {named(line.get('supplier_name'), line['supplier_id'])}"
        f" at {unit_price(line['unit_price'], line['currency'], line.get('unit'))}"
    )


def line_value(line: Mapping[str, Any]) -> float:
    """What a purchase line costs: quantity × unit price, in the tenant's currency."""
    return float(line["quantity"]) * float(line["unit_price"])


def batch_text(batch: Mapping[str, Any]) -> str:
    """One production batch row in words: `7 batches, 98 pcs Sourdough Rye 500g`."""
    count = int(batch["batches"])
    return (
        f"{count} batch{'es' if count != 1 else ''}, {quantity(batch['units'], PIECES)} "
        f"{named(batch.get('product_name'), batch['product_id'])}"
    )
