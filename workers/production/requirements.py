"""Ingredient requirements of a production plan: how much of each ingredient on which day, and how sure.

Pure: no I/O, no clock. Quantities are in the ingredient's unit.

**Firm and planned days.** On the firm days (`business_date` and the day after: today's bake is
under way and tomorrow's doughs are made today) the need follows the scheduled batches exactly:
recipe lines × product batches on the bake day, component lines × whole component batches on the
make day. From the third day on, the batches are re-planned every morning, so the need is the
*expected* use: pieces at the forecast mean (net of the finished stock used, at most what capacity
granted) × ingredient per piece through every component level, with no newsvendor margin and no
batch rounding. The demand uncertainty those margins cover is passed on as `quantity_sd`, and the
procurement step holds it once, as safety stock; counting it in both would buy it twice.

`quantity_sd` is the standard deviation of the day's need implied by demand uncertainty. Each
forecast line (product, bake day) that puts this ingredient on this day contributes
(ingredient per piece × demand sd of that line)², where "per piece" follows every component level
continuously (no batch rounding) and sums the paths that land on the same day; forecast lines are
taken as independent, so the day's sd is the square root of the sum. It is `None` when any
contributing line's sd is a guess: p10 or p90 missing, or a model whose name starts with
"cold-start" — the procurement step then falls back to a percentage safety stock.
"""

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, NamedTuple

import numpy as np

from contracts.planning import IngredientRequirement, Recipe
from workers.production.explosion import ComponentBatch, ComponentIndex, IngredientUse


class BakedDay(NamedTuple):
    """Product batches granted for one forecast line, with that line's demand sd (pieces)."""

    product_id: str
    day: date
    batches: int
    expected_pieces: float  # pieces at the forecast mean net of stock, at most batches × yield
    demand_sd: float
    sd_known: bool


# The business date and the next day plan on scheduled batches; later days on expected use.
FIRM_DAYS = 2


class _UseTable(NamedTuple):
    """A recipe's ingredients per day before the bake, as parallel arrays (one row per ingredient and day)."""

    ingredient_index: "np.ndarray[Any, np.dtype[np.int64]]"
    days_before_bake: "np.ndarray[Any, np.dtype[np.int64]]"
    direct_per_batch: "np.ndarray[Any, np.dtype[np.float64]]"  # recipe lines; components come from their batches
    per_piece_squared: "np.ndarray[Any, np.dtype[np.float64]]"  # (per piece through every level)², for variance
    per_piece: "np.ndarray[Any, np.dtype[np.float64]]"  # per piece through every level, for expected use


def ingredient_requirements(
    baked: Sequence[BakedDay],
    recipes_by_product: Mapping[str, Recipe],
    index: ComponentIndex,
    component_batches: Sequence[ComponentBatch],
    *,
    business_date: date,
) -> tuple[IngredientRequirement, ...]:
    """Requirements per (ingredient, day), sorted by (day, ingredient_id).

    Quantities and sds are rounded to 3 decimals; a requirement whose quantity rounds to 0 is
    dropped. Component uses that would fall before `business_date` (work already done) count for
    neither quantity nor sd.
    """
    # Vectorised: a large tenant has tens of thousands of (product-day, ingredient) terms. Each term
    # gets a key (day ordinal, ingredient index); ingredient indices follow sorted ids, so sorted keys
    # are (day, ingredient_id) order. bincount adds in input order, so the sums are deterministic.
    if not baked:
        return ()
    uses = {
        product_id: index.uses_per_piece(recipes_by_product[product_id]) for product_id in {b.product_id for b in baked}
    }
    ingredient_ids = sorted(
        {use.ingredient_id for product_uses in uses.values() for use in product_uses}
        | {line.ingredient_id for made in component_batches for line in index.by_id[made.component_id].lines}
    )
    position = {ingredient_id: i for i, ingredient_id in enumerate(ingredient_ids)}
    # One table for all products, each product's rows contiguous; every baked day gathers its rows.
    product_ids = sorted(uses)
    tables = [_use_table(recipes_by_product[p], uses[p], position) for p in product_ids]
    all_rows = _UseTable(*(np.concatenate([t[field] for t in tables]) for field in range(len(_UseTable._fields))))
    rows_of_product = np.array([len(t.ingredient_index) for t in tables], dtype=np.int64)
    first_row_of_product = np.cumsum(rows_of_product) - rows_of_product
    product_position = {product_id: i for i, product_id in enumerate(product_ids)}
    product_of_day = np.array([product_position[b.product_id] for b in baked], dtype=np.int64)
    rows_per_day = rows_of_product[product_of_day]
    row_day = np.repeat(np.arange(len(baked)), rows_per_day)
    row_in_product = np.arange(len(row_day)) - np.repeat(np.cumsum(rows_per_day) - rows_per_day, rows_per_day)
    table = _UseTable(*(field[first_row_of_product[product_of_day][row_day] + row_in_product] for field in all_rows))
    bake_ordinal = np.array([b.day.toordinal() for b in baked], dtype=np.int64)[row_day]
    need_ordinal = bake_ordinal - table.days_before_bake
    batches = np.array([b.batches for b in baked], dtype=np.float64)[row_day]
    expected_pieces = np.array([b.expected_pieces for b in baked], dtype=np.float64)[row_day]
    firm_until = business_date.toordinal() + FIRM_DAYS
    row_is_firm = need_ordinal < firm_until
    sd_squared = np.array([b.demand_sd * b.demand_sd for b in baked], dtype=np.float64)[row_day]
    guessed = np.array([not b.sd_known for b in baked], dtype=np.float64)[row_day]
    counts_for_sd = need_ordinal >= business_date.toordinal()

    made_ordinal, made_index, made_quantity = [], [], []
    for made in component_batches:
        if made.day.toordinal() >= firm_until:
            continue  # planned days: the expected use per piece covers components too
        for line in index.by_id[made.component_id].lines:
            made_ordinal.append(made.day.toordinal())
            made_index.append(position[line.ingredient_id])
            made_quantity.append(line.quantity_per_batch * made.batches)

    width = len(ingredient_ids)
    keys = np.concatenate(
        [
            need_ordinal * width + table.ingredient_index,
            np.array(made_ordinal, dtype=np.int64) * width + np.array(made_index, dtype=np.int64),
        ]
    )
    unique_keys, slot = np.unique(keys, return_inverse=True)
    zeros = np.zeros(len(made_ordinal))
    quantity = np.bincount(
        slot,
        weights=np.concatenate(
            [np.where(row_is_firm, table.direct_per_batch * batches, table.per_piece * expected_pieces), made_quantity]
        ),
        minlength=len(unique_keys),
    )
    variance = np.bincount(
        slot,
        weights=np.concatenate([np.where(counts_for_sd, table.per_piece_squared * sd_squared, 0.0), zeros]),
        minlength=len(unique_keys),
    )
    unknown = np.bincount(
        slot, weights=np.concatenate([np.where(counts_for_sd, guessed, 0.0), zeros]), minlength=len(unique_keys)
    )

    requirements: list[IngredientRequirement] = []
    for key, total, day_variance, guesses in zip(
        unique_keys.tolist(), quantity.tolist(), variance.tolist(), unknown.tolist(), strict=True
    ):
        rounded = round(total, 3)
        if rounded <= 0:
            continue
        ordinal, ingredient = divmod(key, width)
        requirements.append(
            IngredientRequirement(
                ingredient_id=ingredient_ids[ingredient],
                day=date.fromordinal(ordinal),
                quantity=rounded,
                quantity_sd=None if guesses > 0 else round(math.sqrt(day_variance), 3),
            )
        )
    return tuple(requirements)


def _use_table(recipe: Recipe, uses: Sequence[IngredientUse], position: Mapping[str, int]) -> _UseTable:
    direct: dict[str, float] = {}
    for line in recipe.lines:
        direct[line.ingredient_id] = direct.get(line.ingredient_id, 0.0) + line.quantity_per_batch
    return _UseTable(
        ingredient_index=np.array([position[use.ingredient_id] for use in uses], dtype=np.int64),
        days_before_bake=np.array([use.days_before_bake for use in uses], dtype=np.int64),
        direct_per_batch=np.array(
            [direct.get(use.ingredient_id, 0.0) if use.days_before_bake == 0 else 0.0 for use in uses],
            dtype=np.float64,
        ),
        per_piece_squared=np.array([use.quantity_per_piece**2 for use in uses], dtype=np.float64),
        per_piece=np.array([use.quantity_per_piece for use in uses], dtype=np.float64),
    )
