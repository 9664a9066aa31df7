"""One cell of a tenant file, read and written: numbers as plain decimals, dates ISO, lists joined by `;`.

`parse(kind, text)` gives the value or raises `CellError` with the reason a person can act on;
`render(kind, value)` is its inverse, so `parse(kind, render(kind, v)) == v` for every stored value
(floats are written with the shortest digits that read back as the same float). `convert` turns a
quantity from the unit written next to it into its ingredient's (or component's) unit.
"""

import math
import re
from datetime import date, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from orchestrator.tenant_files.columns import Kind

# each written unit: the stored unit it converts to, and how many of it make one of those
UNITS: dict[str, tuple[str, int]] = {
    "g": ("kg", 1000),
    "kg": ("kg", 1),
    "ml": ("l", 1000),
    "l": ("l", 1),
    "pcs": ("pcs", 1),
}
BASE_UNITS = ("kg", "l", "pcs")
_ID = re.compile(r"^[^\s;:,]{1,64}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class CellError(ValueError):
    """A cell that cannot be read; the message is the reason, without the place."""


def _decimal(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CellError(f"{text!r} is not a number (write a plain decimal such as 2.40)") from None
    if not math.isfinite(value):
        raise CellError(f"{text!r} is not a finite number")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise CellError(f"{text!r} is not a whole number") from None


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CellError(f"{text!r} is not a date (write YYYY-MM-DD, e.g. 2026-12-24)") from None


def _time(text: str) -> time:
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise CellError(f"{text!r} is not a time (write HH:MM, e.g. 04:30)") from None


def _weekday(text: str) -> int:
    day = _int(text)
    if not 0 <= day <= 6:
        raise CellError(f"weekday {day} is not 0 (Monday) … 6 (Sunday)")
    return day


def _weekdays(text: str) -> list[int]:
    """In the order written (stored as given, so an export reads back unchanged); each day once."""
    days = [_weekday(p) for p in _parts(text)]
    for day in days:
        if days.count(day) > 1:
            raise CellError(f"weekday {day} is given twice")
    return days


def _tier(text: str) -> dict[str, float]:
    quantity, colon, price = text.partition(":")
    if not colon:
        raise CellError(f"price tier {text!r} is not MIN_QUANTITY:UNIT_PRICE (e.g. 250:0.70)")
    return {"min_quantity": _decimal(quantity.strip()), "unit_price": _decimal(price.strip())}


def _parts(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _zone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise CellError(f"{text!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return text


def _currency(text: str) -> str:
    if not _CURRENCY.match(text):
        raise CellError(f"{text!r} is not an ISO 4217 code: write three upper-case letters, e.g. EUR")
    return text


def _choice(text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise CellError(f"unit {text!r} is not one of {', '.join(choices)}")
    return text


def _id(text: str) -> str:
    if not _ID.match(text):
        raise CellError(f"id {text!r} must be 1 to 64 characters without spaces, ';', ':' or ','")
    return text


def _bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in {"true", "yes", "1"}:
        return True
    if lowered in {"false", "no", "0"}:
        return False
    raise CellError(f"{text!r} is not true or false")


def parse(kind: Kind, text: str) -> Any:
    """The value of a non-empty cell (already stripped) of `kind`; raises `CellError`."""
    match kind:
        case "id":
            return _id(text)
        case "text":
            return text
        case "int":
            return _int(text)
        case "decimal":
            return _decimal(text)
        case "date":
            return _date(text)
        case "time":
            return _time(text)
        case "bool":
            return _bool(text)
        case "weekdays":
            return _weekdays(text)
        case "dates":
            return [_date(p) for p in _parts(text)]
        case "tiers":
            return [_tier(p) for p in _parts(text)]
        case "unit":
            return _choice(text, tuple(UNITS))
        case "base_unit":
            return _choice(text, BASE_UNITS)
        case "zone":
            return _zone(text)
        case "currency":
            return _currency(text)


def decimal_text(value: float) -> str:
    """`value` in plain positional digits (no exponent), the fewest that read back as the same float."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return format(Decimal(repr(value)), "f")


def render(kind: Kind, value: Any) -> str:
    """The cell text of a stored value (`None` is an empty cell); the inverse of `parse`."""
    if value is None:
        return ""
    match kind:
        case "decimal":
            return decimal_text(float(value))
        case "bool":
            return "true" if value else "false"
        case "weekdays":
            return ";".join(str(day) for day in value)
        case "dates":
            return ";".join(str(day) for day in value)
        case "tiers":
            return ";".join(f"{decimal_text(t['min_quantity'])}:{decimal_text(t['unit_price'])}" for t in value)
        case "time":
            moment = value if isinstance(value, time) else time.fromisoformat(value)
            return moment.isoformat(timespec="seconds" if moment.second else "minutes")
        case _:
            return str(value)


def convert(quantity: float, written: str, stored: str) -> float:
    """`quantity` in the `written` unit, in the `stored` unit; raises `CellError` when they do not convert."""
    base, per_base = UNITS[written]
    if base != stored:
        raise CellError(f"unit {written!r} does not convert to {stored!r}")
    return quantity if per_base == 1 else quantity / per_base
