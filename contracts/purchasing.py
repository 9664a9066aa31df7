"""Purchase orders: what goes out to a supplier once a plan's purchase lines are released (issue 15).

A purchase order is one supplier's lines for one delivery date, with names, units and money, so a
channel (email, webhook, file drop) can render it without reading master data. Quantities are in the
ingredient's unit, money in the tenant's currency (ISO 4217).
"""

from datetime import date

from pydantic import AwareDatetime, Field

from contracts import bounds
from contracts.envelope import Strict


class PurchaseOrderLine(Strict):
    line_id: str = Field(description="the purchase line it releases")
    ingredient_id: str
    ingredient_name: str
    quantity: float = Field(gt=0, description="in `unit`, the ingredient's unit")
    unit: str
    unit_price: float = Field(ge=0)
    amount: float = Field(ge=0, description="quantity × unit_price")


class PurchaseOrder(Strict):
    po_number: str = Field(
        min_length=1,
        max_length=64,
        description="deterministic and unique per tenant: the supplier's idempotency key for this order",
    )
    tenant_id: str
    tenant_name: str
    supplier_id: str
    supplier_name: str
    order_date: date
    delivery_date: date
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    lines: tuple[PurchaseOrderLine, ...] = Field(min_length=1, max_length=bounds.ORDER_LINES)
    total: float = Field(ge=0)
    released_at: AwareDatetime
