"""A purchase order as the bytes a supplier receives: CSV lines, the webhook's JSON, and the names
derived from the PO number (file name, Message-ID, Idempotency-Key). Pure: same order, same bytes.

The CSV has one row per line, a header row, and the columns in `CSV_COLUMNS`. Numbers are written
with a dot and without thousands separators; quantities in their shortest exact form, money with at
least two decimals. Text cells that a spreadsheet would run as a formula (starting with = + - @ or a
tab) are prefixed with an apostrophe, as OWASP advises against CSV injection.
"""

import csv
import hashlib
import io
import re
from decimal import Decimal
from urllib.parse import quote

from contracts.purchasing import PurchaseOrder

CSV_COLUMNS = (
    "po_number",
    "supplier_id",
    "supplier_name",
    "order_date",
    "delivery_date",
    "line",
    "ingredient_id",
    "ingredient_name",
    "quantity",
    "unit",
    "unit_price",
    "amount",
    "currency",
)
_TOKEN_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def quantity_text(value: float) -> str:
    """The shortest exact decimal of a quantity: 25.0 → "25", 12.5 → "12.5"."""
    return format(Decimal(repr(value)).normalize(), "f")


def money_text(value: float) -> str:
    """Money with at least two decimals, more only when the value has them (a price per gram)."""
    two = f"{value:.2f}"
    return two if float(two) == value else quantity_text(value)


def _cell(value: str) -> str:
    return f"'{value}" if value.startswith(_FORMULA_START) else value


def render_csv(order: PurchaseOrder) -> bytes:
    """The order's lines as UTF-8 CSV (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for number, line in enumerate(order.lines, start=1):
        writer.writerow(
            (
                _cell(order.po_number),
                _cell(order.supplier_id),
                _cell(order.supplier_name),
                order.order_date.isoformat(),
                order.delivery_date.isoformat(),
                number,
                _cell(line.ingredient_id),
                _cell(line.ingredient_name),
                quantity_text(line.quantity),
                _cell(line.unit),
                money_text(line.unit_price),
                money_text(line.amount),
                order.currency,
            )
        )
    return out.getvalue().encode()


def render_json(order: PurchaseOrder) -> bytes:
    """The webhook's body: the `contracts.purchasing.PurchaseOrder` JSON, the same bytes every attempt."""
    return order.model_dump_json().encode()


def safe_token(value: str) -> str:
    """`value` with only letters, digits, dot, dash and underscore, not starting with a dot; when anything
    had to be replaced, a digest of the original follows, so two different values never share a token."""
    token = _TOKEN_UNSAFE.sub("_", value)
    if token.startswith("."):  # a hidden file, which a collector skips
        token = f"_{token[1:]}"
    if token == value:
        return token
    return f"{token}-{hashlib.sha256(value.encode()).hexdigest()[:8]}"


def file_stem(order: PurchaseOrder) -> str:
    """The attachment's and the dropped file's name without extension: the PO number, made file-safe."""
    return safe_token(order.po_number)


def message_id(order: PurchaseOrder, domain: str) -> str:
    """The email's Message-ID: the same for every send of one order, so the supplier's mailbox dedupes."""
    return f"<po.{safe_token(order.po_number)}.{safe_token(order.tenant_id)}@{domain}>"


def idempotency_key(order: PurchaseOrder) -> str:
    """The webhook's Idempotency-Key: the PO number, percent-encoded where it is not visible ASCII."""
    return quote(order.po_number, safe="".join(chr(c) for c in range(0x21, 0x7F) if chr(c) != "%"))
