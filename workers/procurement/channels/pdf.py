"""A purchase order as a one-page A4 PDF a person at the supplier reads: the bakery, the supplier, the PO
number, order and delivery dates, a table of the lines (name, quantity with unit, unit price, amount)
and the total with its currency. Longer orders flow onto further pages, the table header repeated.

Pure and deterministic (reportlab's invariant mode: no creation time, no random document id), so one
order always renders to the same bytes. Text is set in Bitstream Vera, which reportlab ships: Latin
scripts with their accents, €, £; no font of the machine is needed.
"""

import functools
import io
from datetime import date
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle
from reportlab.platypus.flowables import Flowable

from contracts.purchasing import PurchaseOrder
from workers.procurement.channels.documents import money_text, quantity_text

FONT, BOLD = "BakeplanVera", "BakeplanVera-Bold"
CURRENCY_SIGNS = {"EUR": "€", "GBP": "£", "USD": "$"}
INK, MUTED, RULE, BAND = (
    colors.HexColor("#1f2328"),
    colors.HexColor("#59636e"),
    colors.HexColor("#d0d7de"),
    colors.HexColor("#f3efe6"),
)
MARGIN = 18 * mm


@functools.cache
def _fonts() -> None:
    folder = Path(reportlab.__file__).parent / "fonts"
    pdfmetrics.registerFont(TTFont(FONT, str(folder / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(folder / "VeraBd.ttf")))


def _style(size: float, *, bold: bool = False, color: colors.Color = INK, right: bool = False) -> ParagraphStyle:
    return ParagraphStyle(
        "po",
        fontName=BOLD if bold else FONT,
        fontSize=size,
        leading=size * 1.3,
        textColor=color,
        alignment=TA_RIGHT if right else 0,
    )


def _grouped(text: str) -> str:
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}"
    return f"{grouped}.{fraction}" if fraction else grouped


def money(value: float, currency: str) -> str:
    """`€1,234.50`, `CHF 18.40`: the sign where one is common, else the ISO code."""
    amount = _grouped(money_text(value))
    sign = CURRENCY_SIGNS.get(currency)
    return f"{sign}{amount}" if sign else f"{currency} {amount}"


def quantity(value: float, unit: str) -> str:
    return f"{_grouped(quantity_text(value))} {unit}"


def _day(value: date) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


def _small(text: str) -> str:
    return f"<font size=7.5 color='#59636e'>{escape(text)}</font>"


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def _heading(order: PurchaseOrder, width: float) -> list[Flowable]:
    title = Table(
        [[_p("Purchase order", _style(20, bold=True)), _p(order.po_number, _style(14, bold=True, right=True))]],
        colWidths=[width * 0.55, width * 0.45],
    )
    title.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "BOTTOM"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    label, value = _style(8, color=MUTED), _style(11, bold=True)
    parties = Table(
        [
            [_p("Ordered by", label), _p("Supplier", label)],
            [_p(order.tenant_name, value), _p(order.supplier_name, value)],
            [_p("Order date", label), _p("Delivery date", label)],
            [_p(_day(order.order_date), value), _p(_day(order.delivery_date), value)],
        ],
        colWidths=[width * 0.5, width * 0.5],
    )
    parties.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, -1), BAND),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, 0), 7),
                ("TOPPADDING", (0, 2), (-1, 2), 9),
                ("BOTTOMPADDING", (0, -1), (-1, -1), 9),
            ]
        )
    )
    return [title, Spacer(1, 4 * mm), parties, Spacer(1, 7 * mm)]


def _lines(order: PurchaseOrder, width: float) -> Table:
    head, head_right = _style(8.5, bold=True, color=MUTED), _style(8.5, bold=True, color=MUTED, right=True)
    cell, number = _style(9.5), _style(9.5, right=True)
    rows: list[list[Flowable | str]] = [
        [
            _p("#", head),
            _p("Item", head),
            _p("Quantity", head_right),
            _p("Unit price", head_right),
            _p(f"Amount ({order.currency})", head_right),
        ]
    ]
    for n, line in enumerate(order.lines, start=1):
        rows.append(
            [
                _p(str(n), _style(9.5, color=MUTED)),
                Paragraph(f"{escape(line.ingredient_name)}<br/>{_small(line.ingredient_id)}", cell),
                _p(quantity(line.quantity, line.unit), number),
                _p(f"{money(line.unit_price, order.currency)} / {line.unit}", number),
                _p(money(line.amount, order.currency), number),
            ]
        )
    rows.append(
        [
            "",
            _p("Total", _style(11, bold=True)),
            "",
            "",
            _p(money(order.total, order.currency), _style(11, bold=True, right=True)),
        ]
    )
    table = Table(rows, colWidths=[width * f for f in (0.05, 0.39, 0.16, 0.19, 0.21)], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("LINEBELOW", (0, 0), (-1, 0), 1, INK),
                ("LINEBELOW", (0, 1), (-1, -3), 0.4, RULE),
                ("LINEABOVE", (0, -1), (-1, -1), 1, INK),
                ("TOPPADDING", (0, 1), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 1), (-1, -1), 4),
            ]
        )
    )
    return table


def _footer(order: PurchaseOrder) -> "_Footer":
    released = order.released_at.strftime("%Y-%m-%d %H:%M %Z").strip()
    note = f"Please quote {order.po_number} on the delivery note and the invoice. Released {released}."
    return _Footer(note)


class _Footer:
    def __init__(self, note: str) -> None:
        self.note = note

    def __call__(self, canvas: Canvas, doc: SimpleDocTemplate) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7.5)
        canvas.setFillColor(MUTED)
        canvas.drawString(MARGIN, 10 * mm, self.note)
        canvas.drawRightString(A4[0] - MARGIN, 10 * mm, f"Page {doc.page}")
        canvas.restoreState()


def render_pdf(order: PurchaseOrder) -> bytes:
    """The order as PDF bytes (starting with `%PDF`)."""
    _fonts()
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=f"Purchase order {order.po_number}",
        author=order.tenant_name,
        subject=f"{order.supplier_name}, delivery {order.delivery_date.isoformat()}",
        invariant=1,
    )
    width = A4[0] - 2 * MARGIN
    footer = _footer(order)
    doc.build([*_heading(order, width), _lines(order, width)], onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()
