"""A purchase order as the supplier reads it: CSV rows that are the lines, a PDF that shows the order,
and names derived from the PO number that are stable, safe and distinct."""

import csv
import io
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from lab.purchase_orders import SAMPLE_LINES, a_purchase_order
from workers.procurement.channels.config import EmailTarget
from workers.procurement.channels.documents import (
    CSV_COLUMNS,
    file_stem,
    idempotency_key,
    message_id,
    money_text,
    quantity_text,
    render_csv,
    render_json,
    safe_token,
)
from workers.procurement.channels.pdf import render_pdf
from workers.procurement.channels.smtp import compose

pytestmark = pytest.mark.unit


def _rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode())))


def test_the_csv_has_one_row_per_line_with_names_quantities_units_and_money() -> None:
    order = a_purchase_order()
    data = render_csv(order)
    assert data.startswith(",".join(CSV_COLUMNS).encode() + b"\r\n")
    rows = _rows(data)
    assert [
        (r["ingredient_id"], r["ingredient_name"], float(r["quantity"]), r["unit"], float(r["unit_price"]))
        for r in rows
    ] == [(i, name, float(q), unit, price) for i, name, q, unit, price in SAMPLE_LINES]
    assert [r["line"] for r in rows] == [str(n) for n in range(1, len(SAMPLE_LINES) + 1)]
    assert {r["po_number"] for r in rows} == {order.po_number}
    assert {(r["order_date"], r["delivery_date"], r["currency"]) for r in rows} == {("2026-11-28", "2026-12-01", "EUR")}
    assert rows[0]["amount"] == "155.00"
    assert rows[4]["quantity"] == "12.5"
    assert sum(float(r["amount"]) for r in rows) == pytest.approx(order.total)
    assert render_csv(order) == data  # the same order, the same bytes: a re-dropped file is unchanged


def test_the_csv_defuses_cells_a_spreadsheet_would_run_as_formulas() -> None:
    order = a_purchase_order(lines=[("x", '=HYPERLINK("http://evil")', 1, "kg", 1.0), ("y", "-Rye", 2, "kg", 0.5)])
    names = [r["ingredient_name"] for r in _rows(render_csv(order))]
    assert names == ['\'=HYPERLINK("http://evil")', "'-Rye"]


@given(st.floats(min_value=1e-6, max_value=1e9, allow_nan=False))
def test_quantities_and_money_are_written_exactly(value: float) -> None:
    assert float(quantity_text(value)) == value
    assert float(money_text(value)) == value
    assert len(money_text(value).partition(".")[2]) >= 2


def test_prices_with_more_than_cents_keep_them() -> None:
    assert money_text(0.0123) == "0.0123"
    assert money_text(18.4) == "18.40"
    assert quantity_text(25.0) == "25"


def test_the_pdf_is_one_page_that_shows_the_order() -> None:
    order = a_purchase_order()
    pdf = render_pdf(order)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = " ".join(reader.pages[0].extract_text().split())
    for expected in (
        "Purchase order",
        order.po_number,
        "Mill Lane Bakehouse",
        "Northern Mills",
        "Sat 28 Nov 2026",
        "Tue 1 Dec 2026",
        "Butter 82 % (Süßrahm)",
        "12.5 kg",
        "720 pcs",
        "€0.27 / pcs",
        "€194.40",
        "Amount (EUR)",
        "€854.90",
    ):
        assert expected in text, f"{expected!r} not on the page"
    assert reader.metadata is not None
    assert reader.metadata.title == f"Purchase order {order.po_number}"
    assert render_pdf(order) == pdf  # deterministic: no creation time, no random document id


def test_a_long_order_flows_onto_more_pages_with_the_header_repeated() -> None:
    lines = [(f"i{n}", f"Ingredient {n}", n, "kg", 1.25) for n in range(1, 61)]
    reader = PdfReader(io.BytesIO(render_pdf(a_purchase_order(currency="CHF", lines=lines))))
    assert len(reader.pages) >= 2
    texts = [" ".join(page.extract_text().split()) for page in reader.pages]
    assert all("Amount (CHF)" in text and f"Page {n}" in text for n, text in enumerate(texts, start=1))
    everything = " ".join(texts)
    assert all(f"Ingredient {n} i{n} " in everything for n in range(1, 61))
    assert "Total CHF 2,287.50" in texts[-1]


def test_names_from_master_data_cannot_inject_mail_headers() -> None:
    order = a_purchase_order(tenant_name="Mill Lane\r\nBcc: everyone@example.org")
    message = compose(order, EmailTarget(to=("o@n.example",)), sender="orders@mill-lane.example", at=order.released_at)
    assert message["Bcc"] is None
    assert str(message["From"]) == '"Mill Lane Bcc: everyone@example.org" <orders@mill-lane.example>'


def test_the_json_body_is_the_purchase_order() -> None:
    order = a_purchase_order()
    assert type(order).model_validate_json(render_json(order)) == order


def test_names_derived_from_the_po_number() -> None:
    order = a_purchase_order(po_number="PO-2026-11-28-NM-0001", tenant_id="mill-lane")
    assert file_stem(order) == "PO-2026-11-28-NM-0001"
    assert message_id(order, "mill-lane.example") == "<po.PO-2026-11-28-NM-0001.mill-lane@mill-lane.example>"
    assert idempotency_key(order) == "PO-2026-11-28-NM-0001"
    odd = a_purchase_order(po_number="PO 7/Nord ü")
    assert file_stem(odd).startswith("PO_7_Nord__-")
    assert "/" not in file_stem(odd)
    assert idempotency_key(odd) == "PO%207/Nord%20%C3%BC"
    assert not file_stem(a_purchase_order(po_number=".profile")).startswith(".")  # never a hidden file


@given(st.text(min_size=1, max_size=64), st.text(min_size=1, max_size=64))
def test_distinct_po_numbers_never_share_a_token_and_keys_round_trip(a: str, b: str) -> None:
    assert (safe_token(a) == safe_token(b)) == (a == b)
    assert unquote(idempotency_key(a_purchase_order(po_number=a))) == a
    assert all(c.isascii() and c.isprintable() and c != " " for c in idempotency_key(a_purchase_order(po_number=a)))
