"""Small generated sales in the format of the Kiel bakery's export, for tests of `examples/kiel`.

The real export (`date,product,quantity`, daily revenue in euro per product group, closed days
left out, `seasonal_bread` only part of the year) is not in the repository, so the tests make a
few weeks of it: seeded, with a weekday pattern, one closed day and a seasonal product that starts
selling late.
"""

import csv
import random
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kiel"
# euro per day: Monday … Sunday
LEVELS = {
    "bread": (150, 140, 145, 150, 170, 190, 90),
    "rolls": (420, 400, 410, 420, 450, 560, 600),
    "croissant": (150, 140, 140, 150, 170, 230, 260),
    "confectionery": (80, 75, 75, 80, 90, 110, 140),
    "cake": (260, 250, 250, 260, 290, 340, 380),
    "seasonal_bread": (60, 55, 55, 60, 75, 110, 40),
}


def example_prices() -> dict[str, float]:
    """The example's products (the export's product groups) and their unit_price, from products.csv."""
    with (EXAMPLE / "products.csv").open(newline="", encoding="utf-8") as handle:
        return {row["product_id"]: float(row["unit_price"]) for row in csv.DictReader(handle)}


@dataclass(frozen=True)
class KielSales:
    """The generated export: its CSV text and what it holds."""

    text: str
    first_day: date
    last_day: date
    closed_day: date
    seasonal_from: date
    revenue: dict[tuple[str, date], float]  # (product, day) → euro, as written


def kiel_sales(*, weeks: int = 8, last_day: date = date(2017, 7, 31), seed: int = 1) -> KielSales:
    """`weeks` weeks of daily revenue per product group ending on `last_day`, one day closed (all
    rows missing), `seasonal_bread` sold only in the last half of the weeks."""
    rng = random.Random(seed)
    first_day = last_day - timedelta(days=7 * weeks - 1)
    closed_day = first_day + timedelta(days=7 * (weeks // 2) + 2)
    seasonal_from = first_day + timedelta(days=7 * (weeks // 2))
    revenue: dict[tuple[str, date], float] = {}
    lines = ["date,product,quantity"]
    for product, levels in LEVELS.items():
        for offset in range(7 * weeks):
            day = first_day + timedelta(days=offset)
            if day == closed_day or (product == "seasonal_bread" and day < seasonal_from):
                continue
            euro = round(levels[day.weekday()] * rng.uniform(0.85, 1.15), 4)
            revenue[(product, day)] = euro
            lines.append(f"{day},{product},{euro}")
    return KielSales("\n".join(lines) + "\n", first_day, last_day, closed_day, seasonal_from, revenue)
