"""The assortment of a synthetic tenant: ingredients, products with their recipes, the shared dough base.

Names, families and quantities come from `lab.catalogue`; a name drawn twice gets a number
(`Rye bread 1kg #2`). Pure: the random stream (or the seed it is derived from) is a parameter.
"""

import random
from collections.abc import Sequence

from contracts.planning import Component, ComponentLine, Ingredient, Product, Recipe, RecipeLine
from lab.catalogue import CATEGORIES, CORE_CATEGORIES, FAMILIES, FAMILY_SPECS, SEASON_PEAK_DAY_OF_YEAR
from lab.synthetic.sales import ProductDemand

DOUGH_COMPONENT_ID = "C0001"
# The shared dough base per 10 kg batch: flour, yeast and salt of the core ingredients (water is free).
_DOUGH_BATCH_KG = 10.0
_DOUGH_FLOUR_SHARE, _DOUGH_YEAST_SHARE, _DOUGH_SALT_SHARE = 0.6, 0.012, 0.012
_DOUGH_FLOUR_MOVED = 0.5  # share of a bread recipe's core flour that goes through the dough base


def numbered_name(name: str, seen: dict[str, int]) -> str:
    """`name` the first time, `name #n` the n-th time; `seen` counts the uses."""
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} #{seen[name]}"


def _weight_label(kg: float) -> str:
    return f"{kg:g}kg" if kg >= 1 else f"{round(kg * 1000)}g"


def draw_ingredients(rng: random.Random, count: int) -> list[Ingredient]:
    """`count` ingredients `I0001`, …: the core ones first, then one of every category, then categories
    drawn by frequency."""
    plan = list(CORE_CATEGORIES) + [c for c in CATEGORIES if c not in CORE_CATEGORIES]
    weights = [3.0 if c in ("flour", "fruit", "nuts", "seeds", "packaging") else 1.0 for c in CATEGORIES]
    plan += rng.choices(list(CATEGORIES), weights, k=max(0, count - len(plan)))
    used: dict[str, int] = {}
    seen: dict[str, int] = {}
    result = []
    for index, category in enumerate(plan[:count], start=1):
        spec = CATEGORIES[category]
        slot = used.get(category, 0)
        used[category] = slot + 1
        life = spec.shelf_life_days
        result.append(
            Ingredient(
                ingredient_id=f"I{index:04d}",
                name=numbered_name(spec.names[slot % len(spec.names)], seen),
                unit=spec.unit,
                category=category,
                shelf_life_days=rng.randint(*life) if life else None,
            )
        )
    return result


def _line(rng: random.Random, ingredient: Ingredient, dough_kg: float, batch_yield: int) -> RecipeLine:
    spec = CATEGORIES[ingredient.category]
    if ingredient.category == "packaging":
        quantity: float = batch_yield
    elif spec.unit == "pcs":
        quantity = max(1, round(dough_kg * rng.uniform(*spec.per_kg_dough)))
    else:
        quantity = max(0.001, round(dough_kg * rng.uniform(*spec.per_kg_dough), 3))
    return RecipeLine(ingredient_id=ingredient.ingredient_id, quantity_per_batch=float(quantity))


def _pick(rng: random.Random, pool: list[Ingredient], taken: set[str], core: Ingredient | None) -> Ingredient | None:
    if core is not None and core.ingredient_id not in taken and rng.random() < 0.8:
        return core
    free = [i for i in pool if i.ingredient_id not in taken]
    return rng.choice(free) if free else None


def _product_and_recipe(
    rng: random.Random,
    product_id: str,
    family_name: str,
    by_category: dict[str, list[Ingredient]],
    seen: dict[str, int],
) -> tuple[Product, Recipe, str]:
    """One product of `family_name` and its recipe; also the base name (it picks a seasonal peak)."""
    core = {c: by_category[c][0] for c in CORE_CATEGORIES if by_category.get(c)}
    family = FAMILY_SPECS[family_name]
    base = rng.choice(family.names)
    unit_kg = rng.choice(family.unit_kg)
    label = f"{base} {_weight_label(unit_kg)}" if family_name in ("bread", "cake") else base
    price = min(30.0, max(0.5, round(unit_kg * rng.uniform(*family.price_per_kg), 2)))
    product = Product(
        product_id=product_id,
        name=numbered_name(label, seen),
        family=family_name,
        unit_price=price,
        unit_cost=round(price * rng.uniform(0.3, 0.5), 2),
        shelf_life_days=rng.randint(*family.shelf_life_days),
        finished_stock_units=rng.randint(0, 10),
    )
    batch_yield = min(rng.randint(*family.batch_yield), max(6, int(22 / unit_kg)))  # dough ≤ ~24 kg
    dough_kg = batch_yield * unit_kg * 1.1  # bake loss
    chosen: list[Ingredient] = []
    taken: set[str] = set()
    wanted = rng.randint(max(3, len(family.required)), 10)
    categories = list(family.required) + rng.sample(family.optional, len(family.optional))
    for category in categories[:wanted]:
        picked = _pick(rng, by_category.get(category, []), taken, core.get(category))
        if picked is not None:
            chosen.append(picked)
            taken.add(picked.ingredient_id)
    recipe = Recipe(
        product_id=product_id,
        batch_yield_units=batch_yield,
        oven_minutes_per_batch=rng.randint(*family.oven_minutes),
        lines=tuple(_line(rng, i, dough_kg, batch_yield) for i in chosen),
    )
    return product, recipe, base


def ingredients_by_category(ingredients: Sequence[Ingredient]) -> dict[str, list[Ingredient]]:
    """The ingredients of each category in their given order (a core category's first is its core one)."""
    by_category: dict[str, list[Ingredient]] = {}
    for ingredient in ingredients:
        by_category.setdefault(ingredient.category, []).append(ingredient)
    return by_category


def draw_assortment(
    rng: random.Random,
    count: int,
    ingredients: list[Ingredient],
    weekday: tuple[float, ...],
) -> tuple[list[Product], list[Recipe], list[ProductDemand]]:
    """`count` products `P0001`, …, each with its recipe and its demand: every family once, then families
    drawn by their share. `weekday` is the tenant's weekday profile, which each product varies a little."""
    by_category = ingredients_by_category(ingredients)
    families = list(FAMILY_SPECS)
    plan = families + rng.choices(families, [f.share for f in FAMILY_SPECS.values()], k=max(0, count - len(families)))
    products, recipes, demands = [], [], []
    seen: dict[str, int] = {}
    for index, family_name in enumerate(plan[:count], start=1):
        family = FAMILY_SPECS[family_name]
        product, recipe, base = _product_and_recipe(rng, f"P{index:04d}", family_name, by_category, seen)
        products.append(product)
        recipes.append(recipe)
        seasonal = family_name == "seasonal"
        demands.append(
            ProductDemand(
                base_units=rng.randint(*family.base_units),
                weekday=tuple(f * rng.uniform(0.95, 1.05) for f in weekday),
                trend_per_year=rng.uniform(-0.05, 0.1),
                season_peak_day=SEASON_PEAK_DAY_OF_YEAR[base] if seasonal else None,
                season_width_days=rng.uniform(10, 25),
                yearly_amplitude=rng.uniform(0.03, 0.15),
                yearly_peak_day=rng.randint(1, 365),
            )
        )
    return products, recipes, demands


def with_salvage(rng: random.Random, product: Product) -> Product:
    """Bread and rolls sell on as day-old goods at 10–20 % of the price; sweet goods bring 0–10 %."""
    share = rng.uniform(0.1, 0.2) if product.family in ("bread", "rolls") else rng.uniform(0.0, 0.1)
    return product.model_copy(update={"salvage_value": round(product.unit_price * share, 2)})


def with_dough_component(
    recipes: Sequence[Recipe], products: Sequence[Product], ingredients: Sequence[Ingredient]
) -> tuple[tuple[Recipe, ...], tuple[Component, ...]]:
    """Move half of each bread recipe's core flour (with matching yeast and salt) into a shared dough base.

    The dough base (`DOUGH_COMPONENT_ID`, kg, 10 kg batches, made 1 day ahead) is 60 % core flour,
    1.2 % core yeast and 1.2 % core salt by weight, the rest water (not an ingredient). A bread recipe
    using the core flour `f` kg gets `0.5 f / 0.6` kg of dough base, keeps `0.5 f` of flour and loses
    the dough base's yeast and salt from its own lines (a line that would drop below 1 g goes). Other
    recipes are unchanged; without a bread recipe using the core flour there is no component.
    """
    by_category = ingredients_by_category(ingredients)
    if not all(by_category.get(c) for c in ("flour", "yeast", "salt")):
        return tuple(recipes), ()
    flour, yeast, salt = (by_category[c][0].ingredient_id for c in ("flour", "yeast", "salt"))
    shares = {flour: _DOUGH_FLOUR_SHARE, yeast: _DOUGH_YEAST_SHARE, salt: _DOUGH_SALT_SHARE}
    bread = {p.product_id for p in products if p.family == "bread"}
    result = []
    for recipe in recipes:
        flour_kg = next((line.quantity_per_batch for line in recipe.lines if line.ingredient_id == flour), 0.0)
        if recipe.product_id not in bread or flour_kg <= 0:
            result.append(recipe)
            continue
        dough_kg = round(_DOUGH_FLOUR_MOVED * flour_kg / _DOUGH_FLOUR_SHARE, 3)
        taken = {ingredient_id: dough_kg * share for ingredient_id, share in shares.items()}
        lines = []
        for line in recipe.lines:
            left = round(line.quantity_per_batch - taken.get(line.ingredient_id, 0.0), 3)
            if left >= 0.001:
                lines.append(line.model_copy(update={"quantity_per_batch": left}))
        result.append(
            recipe.model_copy(
                update={
                    "lines": tuple(lines),
                    "components": (ComponentLine(component_id=DOUGH_COMPONENT_ID, quantity_per_batch=dough_kg),),
                }
            )
        )
    if result == list(recipes):
        return tuple(recipes), ()
    dough = Component(
        component_id=DOUGH_COMPONENT_ID,
        name="Dough base",
        unit="kg",
        batch_yield=_DOUGH_BATCH_KG,
        made_days_ahead=1,
        mixer_minutes_per_batch=12,
        lines=tuple(
            RecipeLine(ingredient_id=ingredient_id, quantity_per_batch=round(_DOUGH_BATCH_KG * share, 3))
            for ingredient_id, share in shares.items()
        ),
    )
    return tuple(result), (dough,)


def product_with_recipe(
    product_id: str, name: str, family: str, ingredients: Sequence[Ingredient], *, seed: int
) -> tuple[Product, Recipe]:
    """A product called `name` of a synthetic `family` with a recipe drawn from `ingredients`.

    For demand that comes from elsewhere (a sales file): the draw depends only on `seed` and
    `product_id`. Raises `ValueError` for an unknown family.
    """
    if family not in FAMILY_SPECS:
        raise ValueError(f"unknown product family {family!r} for product {product_id!r}; use one of {FAMILIES}")
    rng = random.Random(f"{seed}:{product_id}:recipe")
    product, recipe, _ = _product_and_recipe(rng, product_id, family, ingredients_by_category(ingredients), {})
    return with_salvage(rng, product.model_copy(update={"name": name})), recipe
