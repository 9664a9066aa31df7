"""Multi-level recipes: which components (dough, levain, filling) are made on which day, and from what.

Pure: no I/O, no clock. A product batch baked on day D uses `quantity_per_batch` of each component
of its recipe; that component is made on D - made_days_ahead, and its ingredients are needed on
that day. A component may use other components, made `made_days_ahead` days before *it* is made,
and so on down. Components are made in whole batches of `batch_yield` (component unit): each day's
total need of a component is rounded up on its own, and the surplus of a day is not carried to
another day (a dough is made for a bake, not kept). The make day follows `made_days_ahead` exactly,
whether or not the shop is open that day: the calendar says when the shop sells, not when the
bakehouse prepares.

Component work that would fall before `business_date` is assumed already done — it is today's
work in progress — so it is not planned, needs no ingredients and no mixer time (nor do the
components nested under it, which fall even earlier).

Component quantities are summed as exact decimals (`Fraction` of the shortest float text), so the
rounding to whole batches does not depend on the order batches were added in: 3 × 0.1 kg of a
0.3 kg batch is one batch, not two.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from uuid import UUID

from contracts.errors import PlanningError
from contracts.planning import Component, ComponentLine, Recipe


@dataclass(frozen=True)
class ComponentBatch:
    """Whole batches of one component made on `day`; `quantity` (component unit) = batches × batch_yield."""

    component_id: str
    day: date
    batches: int
    quantity: float
    mixer_minutes: int


@dataclass(frozen=True)
class IngredientUse:
    """Ingredient (own unit) per piece of a product, needed `days_before_bake` days before the bake."""

    ingredient_id: str
    days_before_bake: int
    quantity_per_piece: float


ComponentDay = tuple[str, date]


class ComponentIndex:
    """The tenant's components, checked: unique ids, every referenced id known, no cycles.

    Raises `PlanningError` (naming the saga, the recipe or component and the fix) for a duplicate
    component id, a recipe or component naming an unknown component, or a cycle of components.
    """

    def __init__(self, saga_id: UUID, components: Sequence[Component], recipes: Sequence[Recipe]) -> None:
        self.by_id: dict[str, Component] = {}
        for component in components:
            if component.component_id in self.by_id:
                raise PlanningError(
                    f"saga {saga_id}: component {component.component_id!r} is defined twice; keep one definition"
                )
            self.by_id[component.component_id] = component
        for recipe in recipes:
            self._check_known(saga_id, f"recipe of product {recipe.product_id!r}", recipe.components)
        for component in components:
            self._check_known(saga_id, f"component {component.component_id!r}", component.components)
        self._check_acyclic(saga_id)
        self._uses_by_product: dict[str, tuple[IngredientUse, ...]] = {}

    def _check_known(self, saga_id: UUID, owner: str, lines: Iterable[ComponentLine]) -> None:
        for line in lines:
            if line.component_id not in self.by_id:
                raise PlanningError(
                    f"saga {saga_id}: {owner} uses unknown component {line.component_id!r}; "
                    "add the component or remove it from the recipe"
                )

    def _check_acyclic(self, saga_id: UUID) -> None:
        done: set[str] = set()
        for root in sorted(self.by_id):
            # Iterative depth-first walk; `path` is the chain from the root, so a repeat is a cycle.
            path: list[str] = []
            stack: list[tuple[str, bool]] = [(root, False)]
            while stack:
                component_id, leaving = stack.pop()
                if leaving:
                    path.pop()
                    done.add(component_id)
                    continue
                if component_id in done:
                    continue
                if component_id in path:
                    cycle = " → ".join([*path[path.index(component_id) :], component_id])
                    raise PlanningError(
                        f"saga {saga_id}: components form a cycle ({cycle}); "
                        "a component cannot contain itself, remove one of these lines"
                    )
                path.append(component_id)
                stack.append((component_id, True))
                stack.extend((line.component_id, False) for line in self.by_id[component_id].components)

    def uses_per_piece(self, recipe: Recipe) -> tuple[IngredientUse, ...]:
        """Every ingredient a piece of `recipe`'s product needs, through all component levels.

        Uses of one ingredient on the same day before the bake are summed. Sorted by
        (days_before_bake, ingredient_id). Continuous: whole-batch rounding is not applied.
        """
        cached = self._uses_by_product.get(recipe.product_id)
        if cached is not None:
            return cached
        per_piece: dict[tuple[int, str], float] = {}
        for recipe_line in recipe.lines:
            key = (0, recipe_line.ingredient_id)
            per_piece[key] = per_piece.get(key, 0.0) + recipe_line.quantity_per_batch / recipe.batch_yield_units
        pending = [(line, line.quantity_per_batch / recipe.batch_yield_units, 0) for line in recipe.components]
        while pending:
            component_line, component_per_piece, days_before = pending.pop()
            component = self.by_id[component_line.component_id]
            made_before = days_before + component.made_days_ahead
            batches_per_piece = component_per_piece / component.batch_yield
            for ingredient_line in component.lines:
                key = (made_before, ingredient_line.ingredient_id)
                per_piece[key] = per_piece.get(key, 0.0) + ingredient_line.quantity_per_batch * batches_per_piece
            pending.extend(
                (nested, nested.quantity_per_batch * batches_per_piece, made_before) for nested in component.components
            )
        uses = tuple(
            IngredientUse(ingredient_id=ingredient_id, days_before_bake=days, quantity_per_piece=quantity)
            for (days, ingredient_id), quantity in sorted(per_piece.items())
        )
        self._uses_by_product[recipe.product_id] = uses
        return uses


class ComponentBook:
    """Component needs and whole batches per (component, make day) for the product batches added so far.

    `preview` says what adding product batches would change without changing anything; `commit`
    applies a preview. Only make days on or after `business_date` are recorded (earlier work is
    already done).
    """

    def __init__(self, index: ComponentIndex, business_date: date) -> None:
        self._index = index
        self._business_date = business_date
        self._state: dict[ComponentDay, tuple[Fraction, int]] = {}
        self._exact_by_float: dict[float, Fraction] = {}

    def _exact(self, quantity: float) -> Fraction:
        exact = self._exact_by_float.get(quantity)
        if exact is None:
            # The shortest text of a float is the decimal the tenant typed (0.1, not 0.1000000000000000055…).
            exact = self._exact_by_float[quantity] = Fraction(repr(quantity))
        return exact

    def preview(self, recipe: Recipe, bake_day: date, batches: int) -> dict[ComponentDay, tuple[Fraction, int]]:
        """New (need, whole batches) of every (component, make day) that `batches` more product batches touch."""
        changed: dict[ComponentDay, tuple[Fraction, int]] = {}
        pending: list[tuple[ComponentLine, date, int]] = [(line, bake_day, batches) for line in recipe.components]
        while pending:
            line, use_day, count = pending.pop()
            component = self._index.by_id[line.component_id]
            make_day = use_day - timedelta(days=component.made_days_ahead)
            if make_day < self._business_date:
                continue
            key = (component.component_id, make_day)
            need, made = changed.get(key) or self._state.get(key, (Fraction(0), 0))
            need += self._exact(line.quantity_per_batch) * count
            now_made = math.ceil(need / self._exact(component.batch_yield))
            changed[key] = (need, now_made)
            if now_made > made:
                pending.extend((nested, make_day, now_made - made) for nested in component.components)
        return changed

    def mixer_minutes_added(self, changed: dict[ComponentDay, tuple[Fraction, int]]) -> dict[date, int]:
        """Extra mixer minutes per make day that committing `changed` would cost."""
        added: dict[date, int] = {}
        for (component_id, day), (_, made) in changed.items():
            extra_batches = made - self._state.get((component_id, day), (Fraction(0), 0))[1]
            minutes = extra_batches * self._index.by_id[component_id].mixer_minutes_per_batch
            if minutes:
                added[day] = added.get(day, 0) + minutes
        return added

    def commit(self, changed: dict[ComponentDay, tuple[Fraction, int]]) -> None:
        self._state.update(changed)

    def batches(self) -> tuple[ComponentBatch, ...]:
        """The component batches to make, sorted by (day, component_id); days with no batch are left out."""
        made: list[ComponentBatch] = []
        for (component_id, day), (_, count) in sorted(self._state.items(), key=lambda item: (item[0][1], item[0][0])):
            if count <= 0:
                continue
            component = self._index.by_id[component_id]
            made.append(
                ComponentBatch(
                    component_id=component_id,
                    day=day,
                    batches=count,
                    quantity=round(count * component.batch_yield, 3),
                    mixer_minutes=count * component.mixer_minutes_per_batch,
                )
            )
        return tuple(made)
