"""The bakery's notifications, pure parts: the plan-ready summary (orders and totals, late lines,
expected waste), the alerts' text, the email and JSON renderings keyed by the event id, and
`bakeplan notify set`'s input checks (each problem names its option or file and field)."""

import json
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.cli.notify import parse_notifications, target_of
from contracts.messages import PlanReady, SagaFailedAlert
from contracts.purchasing_messages import OrderSendFailed
from workers.procurement.channels.config import EmailTarget
from workers.procurement.channels.notices import alert_notice, plan_ready_notice, summarise

pytestmark = pytest.mark.unit

AT = datetime(2026, 12, 5, 6, 0, tzinfo=UTC)
EVENT = UUID("00000000-0000-4000-8000-000000000001")
SAGA = UUID("00000000-0000-4000-8000-0000000000aa")


def _ready() -> PlanReady:
    return PlanReady(
        event_id=EVENT,
        tenant_id="kiel",
        saga_id=SAGA,
        occurred_at=AT,
        business_date=date(2026, 12, 5),
        batches=12,
        purchase_lines=4,
        purchase_orders=2,
    )


def _waste(quantity: float) -> dict[str, object]:
    return {"facts": {"expected_waste": quantity}}


def test_the_summary_counts_orders_per_currency_late_lines_and_values_the_waste() -> None:
    summary = summarise(
        date(2026, 12, 5),
        [("EUR", 120.5), ("EUR", 79.5), ("CHF", 10.0)],
        [(True, 2.0, _waste(3)), (False, 1.5, None), (True, 4.0, {"facts": {"expected_waste": True}}),
         (False, 0.5, _waste(10))],
    )  # fmt: skip
    assert summary.orders == 3
    assert summary.totals == (("CHF", 10.0), ("EUR", 200.0))
    assert (summary.purchase_lines, summary.late_lines) == (4, 2)
    assert summary.waste_value == 11.0  # 3 × 2.0 + 10 × 0.5; a boolean is no quantity
    assert summary.currency == "CHF"


def test_a_plan_without_orders_values_its_waste_in_the_fallback_currency() -> None:
    summary = summarise(date(2026, 12, 5), [], [(False, 2.0, _waste(1))], fallback_currency="EUR")
    assert (summary.orders, summary.totals, summary.currency, summary.waste_value) == (0, (), "EUR", 2.0)
    notice = plan_ready_notice(_ready(), summary)
    assert "0 purchase orders placed (nothing)" in notice.subject
    assert "expected waste €2.00" in notice.subject


def test_the_plan_ready_notice_says_orders_totals_late_lines_and_waste() -> None:
    summary = summarise(date(2026, 12, 5), [("EUR", 120.5), ("EUR", 79.5)], [(True, 2.0, _waste(3))])
    notice = plan_ready_notice(_ready(), summary)
    assert notice.kind == "plan_ready"
    assert (
        notice.subject
        == "Plan ready for 2026-12-05: 2 purchase orders placed (€200.00), 1 late line, expected waste €6.00"
    )
    assert "Orders placed: 2 purchase orders placed (€200.00)" in notice.text
    assert "of which 1 late line" in notice.text
    body = json.loads(notice.json_body())
    assert body["event_id"] == str(EVENT)
    assert body["orders"] == 2
    assert body["totals"] == [{"currency": "EUR", "total": 200.0}]
    assert body["late_lines"] == 1
    assert body["expected_waste"] == {"currency": "EUR", "value": 6.0}
    assert notice.idempotency_key == str(EVENT)


def test_the_email_carries_a_message_id_from_the_event_so_every_send_is_the_same_message() -> None:
    notice = alert_notice(
        SagaFailedAlert(event_id=EVENT, tenant_id="kiel", saga_id=SAGA, occurred_at=AT, reason="oven\nbroke")
    )
    target = EmailTarget(to=("baker@kiel.example",), cc=("boss@kiel.example",))
    first = notice.email(target, sender="plans@bakeplan.example", at=AT)
    again = notice.email(target, sender="plans@bakeplan.example", at=datetime(2026, 12, 6, tzinfo=UTC))
    assert first["Message-ID"] == again["Message-ID"] == f"<notice.{EVENT}@bakeplan.example>"
    assert first["To"] == "baker@kiel.example"
    assert first["Cc"] == "boss@kiel.example"
    assert first["Subject"] == f"Plan failed and could not be undone (saga {SAGA})"
    assert "Reason: oven\nbroke" in first.get_content()


def test_an_unsent_order_alert_names_the_order_supplier_and_the_fix() -> None:
    notice = alert_notice(
        OrderSendFailed(
            event_id=EVENT,
            tenant_id="kiel",
            saga_id=SAGA,
            occurred_at=AT,
            po_number="PO-KIEL-1",
            supplier_id="mill",
            supplier_name="Northern Mills",
            channel="email orders@mill.example",
            attempts=5,
            permanent=False,
            reason="SMTP 451",
        )
    )
    assert notice.kind == "order_send_failed"
    assert notice.subject == "Purchase order PO-KIEL-1 to Northern Mills could not be sent"
    assert "after 5 attempt(s)" in notice.text
    assert "bakeplan orders resend PO-KIEL-1 --tenant kiel" in notice.text
    assert json.loads(notice.json_body())["reason"] == "SMTP 451"


def test_notify_set_takes_exactly_one_source_and_names_the_bad_field(tmp_path: Path) -> None:
    assert target_of(path=None, email=[], webhook=None, signing_key_name=None)[1] == [
        "give exactly one of FILE, --email or --webhook (got none)"
    ]
    assert (
        "got --email, --webhook"
        in target_of(path=None, email=["a@b.c"], webhook="https://x", signing_key_name="k")[1][0]
    )
    assert target_of(path=None, email=[], webhook="https://x", signing_key_name=None)[1][0].startswith(
        "--webhook needs --signing-key-name"
    )
    assert target_of(path=None, email=["a@b.c"], webhook=None, signing_key_name="k")[1][0].startswith(
        "--signing-key-name goes with --webhook only"
    )
    _, problems = parse_notifications("kiel", {"kind": "email", "to": ["not-an-address"]})
    assert problems[0].startswith("--email: to.0: String should match pattern")
    _, problems = parse_notifications("kiel", {"kind": "webhook", "url": "ftp://x", "signing_key_name": "k"})
    assert problems[0].startswith("--webhook: url: String should match pattern")
    file = tmp_path / "target.json"
    file.write_text('{"kind": "file_drop", "directory": "x"}')
    target, _ = target_of(path=file, email=[], webhook=None, signing_key_name=None)
    assert target is not None
    _, problems = parse_notifications("kiel", target, file=str(file))
    assert problems[0].startswith(f"{file}: target: Input tag 'file_drop' found using 'kind' does not match")
    found, problems = parse_notifications(
        "kiel", {"kind": "webhook", "url": "https://kiel.example/hook", "signing_key_name": "kiel"}
    )
    assert problems == []
    assert found is not None
    assert found.describe() == "webhook https://kiel.example/hook"


def test_notify_set_exits_2_before_touching_the_database() -> None:
    result = CliRunner().invoke(app, ["notify", "set", "--tenant", "kiel", "--email", "nope"])
    assert result.exit_code == 2
    assert "--email: to.0: String should match pattern" in result.output


def test_order_totals_are_summed_in_cents_not_shown_as_float_residue() -> None:
    # 0.1 + 0.2 and the like: a float sum of order totals leaves residue the subject must not show
    assert 0.1 + 0.2 != 0.3
    summary = summarise(date(2026, 12, 5), [("EUR", 0.1), ("EUR", 0.2), ("CHF", 0.7), ("CHF", 0.1)], [])
    assert summary.totals == (("CHF", 0.8), ("EUR", 0.3))
    assert "4 purchase orders placed (CHF 0.80, €0.30)" in plan_ready_notice(_ready(), summary).subject
