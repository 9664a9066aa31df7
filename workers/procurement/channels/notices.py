"""What a bakery is told (docs/channels.md, "Notifications"): a plan is ready (its orders, late lines and
expected waste), a saga failed, an order could not be sent. Pure: a `Notice` is built from the message
and, for a plan, a `PlanSummary` read from the procurement schema; it renders as a plain-text email or
a JSON body, and both carry the event id, so every send of one notice is recognisably the same one.
"""

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Literal
from uuid import UUID

from contracts.messages import PlanReady, SagaFailedAlert
from contracts.purchasing_messages import OrderSendFailed
from workers.procurement.channels.config import EmailTarget
from workers.procurement.channels.pdf import money

NoticeKind = Literal["plan_ready", "saga_failed", "order_send_failed"]
Alert = SagaFailedAlert | OrderSendFailed


@dataclass(frozen=True)
class PlanSummary:
    """One plan's purchasing, summed: orders placed and their totals per currency, late lines, and the
    value of the waste its lines expect (quantity past the shelf-life cap × unit price)."""

    business_date: date
    orders: int
    totals: tuple[tuple[str, float], ...]
    """(currency, total) per currency of the orders, by currency, each rounded to cents."""
    purchase_lines: int
    late_lines: int
    waste_value: float
    currency: str = ""
    """The currency the waste is valued in: the orders' (empty when unknown, e.g. no orders yet)."""


def expected_waste(reasoning: Mapping[str, Any] | None) -> float:
    """The waste a purchase line's reasoning expects, in the ingredient's unit; 0 when it records none."""
    facts = (reasoning or {}).get("facts") or {}
    wasted = facts.get("expected_waste")
    return float(wasted) if isinstance(wasted, int | float) and not isinstance(wasted, bool) else 0.0


def summarise(
    business_date: date,
    orders: Iterable[tuple[str, float]],
    lines: Iterable[tuple[bool, float, Mapping[str, Any] | None]],
    *,
    fallback_currency: str = "",
) -> PlanSummary:
    """`orders` as (currency, total); `lines` as (late, unit price, reasoning)."""
    amounts: dict[str, list[float]] = {}
    count = 0
    for currency, total in orders:
        amounts.setdefault(currency, []).append(total)
        count += 1
    # a sum of money is in cents: summed exactly, then rounded (never `3,214.1599999999994`)
    totals = {currency: round(math.fsum(values), 2) for currency, values in amounts.items()}
    late = waste = 0.0
    n_lines = 0
    for is_late, unit_price, reasoning in lines:
        n_lines += 1
        late += bool(is_late)
        waste += expected_waste(reasoning) * unit_price
    currency = next(iter(sorted(totals)), fallback_currency)
    return PlanSummary(
        business_date=business_date,
        orders=count,
        totals=tuple(sorted(totals.items())),
        purchase_lines=n_lines,
        late_lines=int(late),
        waste_value=round(waste, 2),
        currency=currency,
    )


def _money(value: float, currency: str) -> str:
    return money(value, currency) if currency else f"{value:,.2f}"


@dataclass(frozen=True)
class Notice:
    """One message to a bakery: `subject` and `text` for a person, `payload` for a machine."""

    event_id: UUID
    tenant_id: str
    kind: NoticeKind
    subject: str
    text: str
    payload: Mapping[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """The webhook's Idempotency-Key: the event's id, the same on every send of this notice."""
        return str(self.event_id)

    def message_id(self, domain: str) -> str:
        """The email's Message-ID: derived from the event's id, so the bakery's mailbox dedupes a repeat."""
        return f"<notice.{self.event_id}@{domain}>"

    def json_body(self) -> bytes:
        body = {
            "kind": self.kind,
            "event_id": str(self.event_id),
            "tenant_id": self.tenant_id,
            "subject": self.subject,
            **self.payload,
        }
        return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()

    def email(self, target: EmailTarget, *, sender: str, at: datetime) -> EmailMessage:
        message = EmailMessage()
        message["From"] = sender
        message["To"] = ", ".join(target.to)
        if target.cc:
            message["Cc"] = ", ".join(target.cc)
        message["Subject"] = " ".join(self.subject.split())  # no line breaks: they would inject headers
        message["Message-ID"] = self.message_id(sender.rpartition("@")[2])
        message["Date"] = format_datetime(at)
        message.set_content(self.text)
        return message


def plan_ready_notice(message: PlanReady, summary: PlanSummary) -> Notice:
    day = summary.business_date.isoformat()
    totals = ", ".join(_money(total, currency) for currency, total in summary.totals) or "nothing"
    orders = f"{summary.orders} purchase order{'s' if summary.orders != 1 else ''} placed ({totals})"
    late = f"{summary.late_lines} late line{'s' if summary.late_lines != 1 else ''}"
    waste = f"expected waste {_money(summary.waste_value, summary.currency)}"
    text = (
        f"The plan of {message.tenant_id} for {day} is ready.\n\n"
        f"  Orders placed: {orders}\n"
        f"  Purchase lines: {summary.purchase_lines}, of which {late} (their order date has passed: order today)\n"
        f"  Expected waste: {_money(summary.waste_value, summary.currency)}\n"
        f"  Production batches: {message.batches}\n\n"
        f"`bakeplan orders list --tenant {message.tenant_id}` shows the orders; `bakeplan show {message.saga_id}` "
        f"the plan's run (event {message.event_id}).\n"
    )
    return Notice(
        event_id=message.event_id,
        tenant_id=message.tenant_id,
        kind="plan_ready",
        subject=f"Plan ready for {day}: {orders}, {late}, {waste}",
        text=text,
        payload={
            "saga_id": str(message.saga_id),
            "business_date": day,
            "orders": summary.orders,
            "totals": [{"currency": c, "total": round(t, 2)} for c, t in summary.totals],
            "purchase_lines": summary.purchase_lines,
            "late_lines": summary.late_lines,
            "expected_waste": {"currency": summary.currency, "value": summary.waste_value},
            "batches": message.batches,
        },
    )


def alert_notice(message: Alert) -> Notice:
    if isinstance(message, SagaFailedAlert):
        subject = f"Plan failed and could not be undone (saga {message.saga_id})"
        text = (
            f"The plan of {message.tenant_id} (saga {message.saga_id}) failed, and its compensation could not "
            f"finish. An operator must look: `bakeplan show {message.saga_id}`.\n\nReason: {message.reason}\n"
        )
        return Notice(
            message.event_id,
            message.tenant_id,
            "saga_failed",
            subject,
            text,
            {"saga_id": str(message.saga_id), "reason": message.reason},
        )
    supplier = message.supplier_name or message.supplier_id
    subject = f"Purchase order {message.po_number} to {supplier} could not be sent"
    text = (
        f"Purchase order {message.po_number} of {message.tenant_id} to {supplier} could not be sent by "
        f"{message.channel} after {message.attempts} attempt(s){' (refused for good)' if message.permanent else ''}."
        f"\n\nReason: {message.reason}\n\nFix the cause, then `bakeplan orders resend {message.po_number} --tenant "
        f"{message.tenant_id}`, or cancel the order.\n"
    )
    return Notice(
        message.event_id,
        message.tenant_id,
        "order_send_failed",
        subject,
        text,
        {
            "saga_id": str(message.saga_id),
            "po_number": message.po_number,
            "supplier_id": message.supplier_id,
            "channel": message.channel,
            "attempts": message.attempts,
            "permanent": message.permanent,
            "reason": message.reason,
        },
    )
