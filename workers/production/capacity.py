"""Fitting the wanted batches into the bakehouse's daily oven and mixer minutes.

Pure: no I/O, no clock. Resources per day:
- oven: `Recipe.oven_minutes_per_batch` × product batches baked that day;
- mixer: `Recipe.mixer_minutes_per_batch` × product batches baked that day, plus
  `Component.mixer_minutes_per_batch` × component batches *made* that day (for bakes on later days).
`None` capacity is unlimited. Component work before the business date is already done and uses no
capacity (see `explosion`).

Priority when capacity binds (greedy, deterministic):
1. first every product-day's *base* batches — the batches needed to reach the median demand (p50)
   net of stock — so that as many products as possible are on the shelf at all;
2. then the *newsvendor extra* — the batches from the median up to the newsvendor quantity.
Within each tier, product-days are taken in descending contribution margin per oven minute
((unit_price - unit_cost) × batch_yield_units / oven_minutes_per_batch; a recipe that needs no oven
comes first), ties by product_id then day. Each product-day gets as many of its batches as fit;
the batches that do not fit are dropped (never moved to another day), and later, smaller requests
may still fit. A batch fits only if every day it touches (its bake day, and the make days of the
component batches it adds) stays within both capacities, so the plan never exceeds capacity.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from contracts.planning import Capacity, Recipe
from workers.production.explosion import ComponentBook

ProductDay = tuple[str, date]


class BatchRequest(NamedTuple):
    """What one product-day wants: `base_batches` (up to the median) ≤ `wanted_batches` (newsvendor)."""

    product_id: str
    day: date
    recipe: Recipe
    base_batches: int
    wanted_batches: int
    margin_per_oven_minute: float


@dataclass(frozen=True)
class CapacityCut:
    """A product-day that got fewer batches than it wanted, and the resource that ran out first."""

    product_id: str
    day: date
    batches_wanted: int
    batches_granted: int
    binding: str  # "oven" or "mixer"


@dataclass(frozen=True)
class Allocation:
    granted: dict[ProductDay, int]
    cuts: dict[ProductDay, CapacityCut]


def allocate(requests: Sequence[BatchRequest], capacity: Capacity, book: ComponentBook) -> Allocation:
    """Grant each request as many batches as fit, in the module's priority order; fills `book`.

    Invariants: 0 ≤ granted ≤ wanted per product-day; per day, oven and mixer minutes used ≤ the
    capacity (when not `None`). A request missing from `granted` got no batch.
    """
    if capacity.oven_minutes_per_day is None and capacity.mixer_minutes_per_day is None:
        for request in requests:
            book.commit(book.preview(request.recipe, request.day, request.wanted_batches))
        return Allocation(granted={(r.product_id, r.day): r.wanted_batches for r in requests}, cuts={})
    ledger = _Ledger(capacity, book)
    order = sorted(requests, key=lambda r: (-r.margin_per_oven_minute, r.product_id, r.day))
    granted: dict[ProductDay, int] = {}
    binding: dict[ProductDay, str] = {}
    for tier in ("base", "extra"):
        for request in order:
            key = (request.product_id, request.day)
            have = granted.get(key, 0)
            target = request.base_batches if tier == "base" else request.wanted_batches
            if target <= have:
                continue
            added, limit = ledger.add(request.recipe, request.day, target - have)
            granted[key] = have + added
            if limit is not None:
                binding[key] = limit
    cuts = {
        key: CapacityCut(
            product_id=request.product_id,
            day=request.day,
            batches_wanted=request.wanted_batches,
            batches_granted=granted.get(key, 0),
            binding=binding[key],
        )
        for request in requests
        if granted.get(key := (request.product_id, request.day), 0) < request.wanted_batches
    }
    return Allocation(granted={key: count for key, count in granted.items() if count > 0}, cuts=cuts)


class _Ledger:
    """Oven and mixer minutes used per day so far, plus the component batches behind them."""

    def __init__(self, capacity: Capacity, book: ComponentBook) -> None:
        self._oven_cap = capacity.oven_minutes_per_day
        self._mixer_cap = capacity.mixer_minutes_per_day
        self._book = book
        self._oven: dict[date, int] = {}
        self._mixer: dict[date, int] = {}

    def add(self, recipe: Recipe, day: date, batches: int) -> tuple[int, str | None]:
        """Add up to `batches` product batches baked on `day`; (added, resource that stopped it or None)."""
        if not recipe.components:
            return self._add_without_components(recipe, day, batches)
        if batches > 1 and self._try_all(recipe, day, batches):
            return batches, None  # the usual case: capacity does not bind, so no batch-by-batch walk
        added = 0
        while added < batches:
            # One at a time: whole component batches make the cost of the next batch uneven.
            changed = self._book.preview(recipe, day, 1)
            mixer_added = self._book.mixer_minutes_added(changed)
            mixer_added[day] = mixer_added.get(day, 0) + recipe.mixer_minutes_per_batch
            if not self._fits(self._oven, self._oven_cap, {day: recipe.oven_minutes_per_batch}):
                return added, "oven"
            if not self._fits(self._mixer, self._mixer_cap, mixer_added):
                return added, "mixer"
            self._book.commit(changed)
            self._use(self._oven, {day: recipe.oven_minutes_per_batch})
            self._use(self._mixer, mixer_added)
            added += 1
        return added, None

    def _try_all(self, recipe: Recipe, day: date, batches: int) -> bool:
        """Add all `batches` at once if they all fit; the component batches are the same either way."""
        changed = self._book.preview(recipe, day, batches)
        mixer_added = self._book.mixer_minutes_added(changed)
        mixer_added[day] = mixer_added.get(day, 0) + batches * recipe.mixer_minutes_per_batch
        oven_added = {day: batches * recipe.oven_minutes_per_batch}
        if not (
            self._fits(self._oven, self._oven_cap, oven_added) and self._fits(self._mixer, self._mixer_cap, mixer_added)
        ):
            return False
        self._book.commit(changed)
        self._use(self._oven, oven_added)
        self._use(self._mixer, mixer_added)
        return True

    def _add_without_components(self, recipe: Recipe, day: date, batches: int) -> tuple[int, str | None]:
        oven_fit = _batches_that_fit(self._oven_cap, self._oven.get(day, 0), recipe.oven_minutes_per_batch, batches)
        mixer_fit = _batches_that_fit(self._mixer_cap, self._mixer.get(day, 0), recipe.mixer_minutes_per_batch, batches)
        added = min(oven_fit, mixer_fit)
        self._use(self._oven, {day: added * recipe.oven_minutes_per_batch})
        self._use(self._mixer, {day: added * recipe.mixer_minutes_per_batch})
        if added == batches:
            return added, None
        return added, "oven" if oven_fit == added else "mixer"

    @staticmethod
    def _fits(used: dict[date, int], cap: int | None, added: dict[date, int]) -> bool:
        return cap is None or all(used.get(day, 0) + minutes <= cap for day, minutes in added.items())

    @staticmethod
    def _use(used: dict[date, int], added: dict[date, int]) -> None:
        for day, minutes in added.items():
            if minutes:
                used[day] = used.get(day, 0) + minutes


def _batches_that_fit(cap: int | None, used: int, minutes_per_batch: int, wanted: int) -> int:
    if cap is None or minutes_per_batch == 0:
        return wanted
    return max(0, min(wanted, (cap - used) // minutes_per_batch))
