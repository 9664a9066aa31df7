"""Purchase orders to send in tests, demos and the docs' picture: `a_purchase_order(...)` builds a valid
one with names, units and money, its amounts and total adding up.

`python -m lab.purchase_orders OUT_DIR` writes the sample order as PDF and CSV (docs/channels.md).
"""

import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

from contracts.purchasing import PurchaseOrder, PurchaseOrderLine

SAMPLE_LINES: tuple[tuple[str, str, float, str, float], ...] = (
    ("wheat-flour-t550", "Wheat flour T550", 250, "kg", 0.62),
    ("rye-flour-t1150", "Rye flour T1150", 75, "kg", 0.71),
    ("spelt-flour-t630", "Spelt flour T630", 50, "kg", 1.18),
    ("butter-82", "Butter 82 % (Süßrahm)", 40, "kg", 7.45),
    ("yeast-fresh", "Fresh yeast", 12.5, "kg", 2.9),
    ("sunflower-seeds", "Sunflower seeds, hulled", 20, "kg", 2.35),
    ("sea-salt", "Sea salt, fine", 25, "kg", 0.48),
    ("eggs-m", "Free-range eggs, size M", 720, "pcs", 0.27),
)
"""(ingredient_id, name, quantity, unit, unit price) of the sample order."""


def a_purchase_order(
    *,
    po_number: str = "PO-2026-11-28-NM-0001",
    tenant_id: str = "mill-lane",
    tenant_name: str = "Mill Lane Bakehouse",
    supplier_id: str = "northern-mills",
    supplier_name: str = "Northern Mills",
    order_date: date = date(2026, 11, 28),
    delivery_date: date = date(2026, 12, 1),
    currency: str = "EUR",
    lines: Sequence[tuple[str, str, float, str, float]] = SAMPLE_LINES,
) -> PurchaseOrder:
    order_lines = tuple(
        PurchaseOrderLine(
            line_id=f"{po_number}:{n}",
            ingredient_id=ingredient_id,
            ingredient_name=name,
            quantity=float(quantity),
            unit=unit,
            unit_price=price,
            amount=round(quantity * price, 2),
        )
        for n, (ingredient_id, name, quantity, unit, price) in enumerate(lines, start=1)
    )
    return PurchaseOrder(
        po_number=po_number,
        tenant_id=tenant_id,
        tenant_name=tenant_name,
        supplier_id=supplier_id,
        supplier_name=supplier_name,
        order_date=order_date,
        delivery_date=delivery_date,
        currency=currency,
        lines=order_lines,
        total=round(sum(line.amount for line in order_lines), 2),
        released_at=datetime(2026, 11, 28, 5, 30, tzinfo=UTC),
    )


def main(argv: Sequence[str]) -> None:
    from workers.procurement.channels.documents import file_stem, render_csv
    from workers.procurement.channels.pdf import render_pdf

    out = Path(argv[0] if argv else ".")
    order = a_purchase_order()
    (out / f"{file_stem(order)}.pdf").write_bytes(render_pdf(order))
    (out / f"{file_stem(order)}.csv").write_bytes(render_csv(order))
    print(f"wrote {out / file_stem(order)}.pdf and .csv")


if __name__ == "__main__":
    main(sys.argv[1:])
