"""`bakeplan orders`: the purchase orders plans released (docs/orders.md): list, show, cancel, receive,
resend (a `send_failed` order, docs/channels.md).

`cancel` and `receive` change an order as the operator, through the same code the orchestrator applies
suppliers' and goods-in's events with (orchestrator/purchasing_store.py): one transaction, the order's
history, the audit chain; a cancellation also goes out to the supplier channels.
Exit codes: 1 for an order the tenant does not have, or one that cannot be changed any more; 2 for bad
input (an unknown tenant, a line that is not the order's, a quantity that is not a number).
"""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import uuid4

import typer
from rich.table import Table
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.amounts import money
from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from contracts.errors import PermanentError
from contracts.purchasing_messages import GoodsReceived, ReceivedLine
from infra.db import create_engine
from orchestrator import masterdata
from orchestrator.audit import audit_keys
from orchestrator.purchasing_store import Purchasing
from workers.procurement.channels.tables import po_deliveries
from workers.purchase_orders import store
from workers.purchase_orders.lifecycle import STATUSES, Change, delivery_timing

Tenant = Annotated[str, typer.Option(help="Tenant id.")]


def _quantity(value: float, unit: str) -> str:
    return f"{value:g} {unit}"


def _detail(tenant: str, po_number: str) -> dict[str, Any]:
    """The order as `orders show` prints it, or exit 2 (unknown tenant) or 1 (unknown order)."""

    async def read(conn: AsyncConnection) -> tuple[bool, dict[str, Any] | None, list[dict[str, Any]]]:
        sent = await conn.execute(
            select(po_deliveries)
            .where(po_deliveries.c.tenant_id == tenant, po_deliveries.c.po_number == po_number)
            .order_by(po_deliveries.c.first_recorded_at)
        )
        return (
            await masterdata.tenant_exists(conn, tenant),
            await store.order_detail(conn, tenant, po_number),
            [dict(r) for r in sent.mappings()],
        )

    exists, found, deliveries = with_db(read)
    if not exists:
        fail(f"unknown tenant {tenant!r}: list tenants with `bakeplan tenants` or create one with `bakeplan seed`")
    if found is None:
        fail(
            f"tenant {tenant} has no purchase order {po_number!r}; "
            f"list them with `bakeplan orders list --tenant {tenant}`",
            1,
        )
    expected = found["confirmed_delivery_date"] or found["delivery_date"]
    for line in found["lines"]:
        wanted = line["quantity"] if line["confirmed_quantity"] is None else line["confirmed_quantity"]
        line["remaining"] = max(0.0, wanted - line["received_quantity"])
        line["over_delivered"] = max(0.0, line["received_quantity"] - wanted)
    for receipt in found["receipts"]:
        receipt["timing"] = delivery_timing(expected, receipt["received_at"].date())
    found["expected_delivery_date"] = expected
    found["deliveries"] = deliveries
    return found


def orders_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's orders.")] = None,
    status: Annotated[
        list[str] | None, typer.Option(help=f"Only orders in this status (repeat): {', '.join(STATUSES)}.")
    ] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    as_json: JsonFlag = False,
) -> None:
    """Purchase orders, newest first: supplier, delivery, total and status."""
    unknown = sorted(set(status or ()) - set(STATUSES))
    if unknown:
        fail(f"--status {', '.join(unknown)}: not a status; use one of {', '.join(STATUSES)}")
    found = with_db(lambda conn: store.list_orders(conn, tenant_id=tenant, statuses=status or (), limit=limit))
    if as_json:
        print_json({"orders": found})
        return
    table = Table("order", "tenant", "supplier", "delivery", "lines", "total", "status")
    for o in found:
        delivery = str(o["confirmed_delivery_date"] or o["delivery_date"])
        if o["confirmed_delivery_date"] not in (None, o["delivery_date"]):
            delivery += f" (was {o['delivery_date']})"
        lines = f"{o['lines']}" + (
            f" ({o['open_lines']} open)" if o["open_lines"] and o["status"] != "released" else ""
        )
        table.add_row(
            o["po_number"],
            o["tenant_id"],
            o["supplier_name"],
            delivery,
            lines,
            money(o["total"], o["currency"]),
            o["status"],
        )
    console.print(table)
    if not found:
        console.print("no purchase orders" + (f" for {tenant}" if tenant else ""))


def orders_show(po_number: str, tenant: Tenant, as_json: JsonFlag = False) -> None:
    """One order: its lines (ordered, confirmed, received, still to come), receipts and history."""
    order = _detail(tenant, po_number)
    if as_json:
        print_json(order)
        return
    currency = order["currency"]
    console.print(
        f"{order['po_number']} to {order['supplier_name']} ({order['supplier_id']}) for {order['tenant_name']}: "
        f"{order['status']}, {money(order['total'], currency)}",
        highlight=False,
    )
    delivery = f"deliver {order['expected_delivery_date']}"
    if order["confirmed_delivery_date"] not in (None, order["delivery_date"]):
        delivery += f" (confirmed; ordered for {order['delivery_date']})"
    console.print(f"ordered {order['order_date']}, released {order['released_at']:%Y-%m-%d %H:%M %Z}; {delivery}")
    lines = Table("#", "ingredient", "ordered", "confirmed", "received", "to come", "price", "amount", title="lines")
    for line in order["lines"]:
        unit = line["unit"]
        received = _quantity(line["received_quantity"], unit)
        if line["over_delivered"] > 0:
            received += f" (+{line['over_delivered']:g} over)"
        confirmed = line["confirmed_quantity"]
        lines.add_row(
            str(line["line_no"]),
            f"{line['ingredient_name']} ({line['ingredient_id']})",
            _quantity(line["quantity"], unit),
            "" if confirmed is None else _quantity(confirmed, unit),
            received,
            _quantity(line["remaining"], unit),
            f"{line['unit_price']:.2f}/{unit}",
            money(line["amount"], currency),
        )
    console.print(lines)
    if order["receipts"]:
        receipts = Table("receipt", "received", "timing", "booked", title="receipts")
        names = {line["line_id"]: (line["ingredient_name"], line["unit"]) for line in order["lines"]}
        for receipt in order["receipts"]:
            booked = ", ".join(
                f"{names[b['line_id']][0]} {_quantity(b['quantity'], names[b['line_id']][1])}" for b in receipt["lines"]
            )
            receipts.add_row(
                receipt["receipt_id"], f"{receipt['received_at']:%Y-%m-%d %H:%M}", receipt["timing"], booked
            )
        console.print(receipts)
    if order["deliveries"]:
        sends = Table("channel", "status", "attempts", "sends", "recorded", "receipt or last error", title="sending")
        for d in order["deliveries"]:
            sends.add_row(
                d["target"],
                d["status"],
                str(d["attempts"]),
                str(d["sends"]),
                f"{d['recorded_at']:%Y-%m-%d %H:%M:%S}",
                d["receipt"] or d["last_error"] or "",
            )
        console.print(sends)
    history = Table("at", "status", "by", "note", title="history")
    for h in order["history"]:
        change = (
            h["to_status"] if h["from_status"] in (None, h["to_status"]) else f"{h['from_status']} → {h['to_status']}"
        )
        history.add_row(f"{h['at']:%Y-%m-%d %H:%M}", change, h["source"], h["note"])
    console.print(history)


def _purchasing() -> tuple[Purchasing, Any]:
    settings = load_settings()
    engine = create_engine(settings, pool_size=1)
    return Purchasing(engine, lambda: datetime.now(UTC), audit_keys=audit_keys(settings)), engine


def _change(act: Callable[[Purchasing], Awaitable[Change]]) -> str:
    """Run one operator change of an order (cancel, resend) and return its history note; a refusal
    (unknown order, wrong status) exits 1 with the reason."""

    async def run() -> str:
        purchasing, engine = _purchasing()
        try:
            return (await act(purchasing)).note
        except PermanentError as exc:
            fail(str(exc), 1)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def orders_cancel(
    po_number: str,
    tenant: Tenant,
    reason: Annotated[str, typer.Option(help="Why, for the order's history and the supplier.")],
    by: Annotated[str, typer.Option(help="Who cancels, for the history.")] = "operator",
    as_json: JsonFlag = False,
) -> None:
    """Cancel an order that is not received yet; the supplier channels are told (`purchasing.order_cancelled`)."""
    before = _detail(tenant, po_number)

    note = _change(lambda purchasing: purchasing.cancel(tenant, po_number, reason=reason, by=by))
    if as_json:
        print_json(
            {"tenant_id": tenant, "po_number": po_number, "status": "cancelled", "was": before["status"], "note": note}
        )
        return
    console.print(f"{po_number} ({before['supplier_name']}): {before['status']} → cancelled; {note}", highlight=False)


def orders_resend(
    po_number: str,
    tenant: Tenant,
    by: Annotated[str, typer.Option(help="Who resends, for the history.")] = "operator",
    as_json: JsonFlag = False,
) -> None:
    """Send a `send_failed` order again (after fixing its channel or once the supplier is back): it goes
    back to `released` and the channels send it on the supplier's channel as configured now."""
    before = _detail(tenant, po_number)

    note = _change(lambda purchasing: purchasing.resend(tenant, po_number, by=by))
    if as_json:
        print_json(
            {"tenant_id": tenant, "po_number": po_number, "status": "released", "was": before["status"], "note": note}
        )
        return
    console.print(
        f"{po_number} ({before['supplier_name']}): {before['status']} → released; {note}; the channels send it again",
        highlight=False,
    )


def _parse_line(value: str, order: dict[str, Any]) -> ReceivedLine:
    """`LINE=QTY` or `LINE=QTY@YYYY-MM-DD`, LINE a line id or the ingredient id of one of the order's lines."""
    what, _, amount = value.partition("=")
    quantity_text, _, expiry_text = amount.partition("@")
    by_key = {line["line_id"]: line for line in order["lines"]} | {
        line["ingredient_id"]: line for line in order["lines"]
    }
    line = by_key.get(what)
    if line is None:
        known = ", ".join(f"{x['ingredient_id']} ({x['ingredient_name']})" for x in order["lines"])
        fail(f"--line {value!r}: {what!r} is not a line of {order['po_number']}; its lines: {known}")
    try:
        quantity = float(quantity_text)
        expires = date.fromisoformat(expiry_text) if expiry_text else None
    except ValueError:
        fail(f"--line {value!r}: write LINE=QUANTITY or LINE=QUANTITY@YYYY-MM-DD (quantity in {line['unit']})")
    if quantity < 0:
        fail(f"--line {value!r}: a received quantity cannot be negative")
    return ReceivedLine(line_id=line["line_id"], quantity=quantity, expires_on=expires)


def orders_receive(
    po_number: str,
    tenant: Tenant,
    line: Annotated[
        list[str],
        typer.Option(help="LINE=QUANTITY[@EXPIRY]: a line id or ingredient id, the quantity in its unit (repeat)."),
    ],
    receipt_id: Annotated[str | None, typer.Option(help="The delivery note's number (unique per order).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Book goods received for an order: stock lots, and the order's status (partly received or received)."""
    order = _detail(tenant, po_number)
    now = datetime.now(UTC)
    try:
        event = GoodsReceived(
            event_id=uuid4(),
            tenant_id=tenant,
            occurred_at=now,
            po_number=po_number,
            receipt_id=receipt_id or f"CLI-{now:%Y%m%d%H%M%S}",
            received_at=now,
            lines=tuple(_parse_line(value, order) for value in line),
        )
    except ValueError as exc:
        fail(f"cannot book this receipt: {exc}")

    async def run() -> str:
        purchasing, engine = _purchasing()
        try:
            return await purchasing.apply(event, source="operator")
        except PermanentError as exc:
            fail(str(exc))
        finally:
            await engine.dispose()

    summary = asyncio.run(run())
    after = _detail(tenant, po_number)
    if as_json:
        print_json(
            {
                "tenant_id": tenant,
                "po_number": po_number,
                "receipt_id": event.receipt_id,
                "status": after["status"],
                "was": order["status"],
                "summary": summary,
                "lines": after["lines"],
            }
        )
        return
    console.print(f"{po_number}: {order['status']} → {after['status']}", highlight=False)
    console.print(summary, highlight=False)


def register(app: typer.Typer) -> None:
    orders = typer.Typer(help="Purchase orders: what plans released, and what came back.", no_args_is_help=True)
    orders.command("list")(orders_list)
    orders.command("show")(orders_show)
    orders.command("cancel")(orders_cancel)
    orders.command("receive")(orders_receive)
    orders.command("resend")(orders_resend)
    app.add_typer(orders, name="orders")
