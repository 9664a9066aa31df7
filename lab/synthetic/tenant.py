"""Seeded synthetic bakery tenants: master data, stock and sales history that look like a real chain.

Pure: no I/O and no clock. The same `(tenant_id, profile, seed, today)` always gives the same
`TenantData`; the random stream is derived from both `seed` and `tenant_id`, so tenants generated
with one seed still differ. Quantities are in the ingredient's unit, money in the tenant's currency.
"""

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Literal

from contracts.planning import (
    Calendar,
    Capacity,
    Component,
    ComponentLine,
    Ingredient,
    OpenPurchaseOrder,
    PlanningPolicy,
    PlanningSnapshot,
    PriceTier,
    Product,
    Recipe,
    RecipeLine,
    SalesHistory,
    StockLot,
    Supplier,
    SupplierItem,
)
from lab.catalogue import (
    CATEGORIES,
    CORE_CATEGORIES,
    EVE_FACTORS,
    FAMILIES,
    FAMILY_SPECS,
    NAME_PARTS,
    SEASON_PEAK_DAY_OF_YEAR,
    SUPPLIER_NAMES,
    TIMEZONES,
    WEEKDAY_FACTORS,
)

Profile = Literal["tiny", "small", "standard", "large"]
# Ovens are sized for the busiest day of the week, with room for the newsvendor margin and whole
# batches; capacity binds on peaks beyond it (holiday eves, seasonal products in season).
CAPACITY_HEADROOM = 1.3


@dataclass(frozen=True)
class ProfileSize:
    products: int
    ingredients: int
    suppliers: int
    history_days: int


PROFILES: dict[str, ProfileSize] = {
    # planning costs next to nothing: benchmarks of the orchestration overhead use it
    "tiny": ProfileSize(products=1, ingredients=3, suppliers=1, history_days=28),
    "small": ProfileSize(products=8, ingredients=30, suppliers=4, history_days=182),
    "standard": ProfileSize(products=40, ingredients=150, suppliers=12, history_days=365),
    "large": ProfileSize(products=300, ingredients=1000, suppliers=20, history_days=730),
}


@dataclass(frozen=True)
class TenantData:
    tenant_id: str
    name: str
    timezone: str
    products: tuple[Product, ...]
    recipes: tuple[Recipe, ...]
    ingredients: tuple[Ingredient, ...]
    stock_lots: tuple[StockLot, ...]
    suppliers: tuple[Supplier, ...]
    sales: tuple[SalesHistory, ...]
    calendar: Calendar
    components: tuple[Component, ...] = ()
    capacity: Capacity = Capacity()
    open_purchase_orders: tuple[OpenPurchaseOrder, ...] = ()
    policy: PlanningPolicy = PlanningPolicy()

    def planning_snapshot(self, *, business_date: date, horizon_days: int) -> PlanningSnapshot:
        """The snapshot a saga would take of this tenant (no regressors: the generator has none)."""
        return PlanningSnapshot(
            tenant_id=self.tenant_id,
            business_date=business_date,
            horizon_days=horizon_days,
            products=self.products,
            recipes=self.recipes,
            ingredients=self.ingredients,
            stock_lots=self.stock_lots,
            suppliers=self.suppliers,
            sales=self.sales,
            calendar=self.calendar,
            components=self.components,
            capacity=self.capacity,
            open_purchase_orders=self.open_purchase_orders,
            policy=self.policy,
        )


@dataclass(frozen=True)
class _Days:
    """Calendar features of consecutive days, computed once and shared by every product."""

    day_of_year: tuple[int, ...]
    weekday: tuple[int, ...]
    years_from_today: tuple[float, ...]  # negative in the past
    eve_factor: tuple[float, ...]

    @classmethod
    def starting(cls, start: date, count: int, *, today: date) -> "_Days":
        days = [start + timedelta(days=n) for n in range(count)]
        return cls(
            day_of_year=tuple(day.timetuple().tm_yday for day in days),
            weekday=tuple(day.weekday() for day in days),
            years_from_today=tuple((day - today).days / 365.25 for day in days),
            eve_factor=tuple(EVE_FACTORS.get((day.month, day.day), 1.0) for day in days),
        )


@dataclass(frozen=True)
class _Demand:
    base_units: float
    weekday: tuple[float, ...]
    trend_per_year: float
    season_peak_day: int | None  # None: sells all year, with a mild yearly wave
    season_width_days: float
    yearly_amplitude: float
    yearly_peak_day: int

    def means(self, days: _Days) -> list[float]:
        """Mean units sold on each day, before noise."""
        peak = self.season_peak_day
        if peak is None:
            step = 2 * math.pi / 365.25
            yearly = [
                1 + self.yearly_amplitude * math.cos(step * (doy - self.yearly_peak_day)) for doy in days.day_of_year
            ]
        else:  # a bell around the peak, wrapping over New Year; near zero out of season
            gaps = (abs(doy - peak) for doy in days.day_of_year)
            yearly = [math.exp(-((min(gap, 365 - gap) / self.season_width_days) ** 2)) for gap in gaps]
        return [
            self.base_units * self.weekday[weekday] * season * eve * (1 + self.trend_per_year * years)
            for weekday, season, eve, years in zip(
                days.weekday, yearly, days.eve_factor, days.years_from_today, strict=True
            )
        ]


def _numbered(name: str, seen: dict[str, int]) -> str:
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} #{seen[name]}"


def _weight_label(kg: float) -> str:
    return f"{kg:g}kg" if kg >= 1 else f"{round(kg * 1000)}g"


def _poisson(rng: random.Random, mean: float) -> int:
    """Poisson draw: exact (Knuth) for small means, normal approximation above, never negative."""
    if mean < 12:
        limit, count, product = math.exp(-mean), 0, rng.random()
        while product > limit:
            count += 1
            product *= rng.random()
        return count
    draw = mean + math.sqrt(mean) * rng.gauss()
    return int(draw + 0.5) if draw > 0 else 0


def _ingredients(rng: random.Random, count: int) -> list[Ingredient]:
    # Core ingredients first, then one of every category, then categories drawn by frequency.
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
                name=_numbered(spec.names[slot % len(spec.names)], seen),
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
        name=_numbered(label, seen),
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


def _by_category(ingredients: Sequence[Ingredient]) -> dict[str, list[Ingredient]]:
    by_category: dict[str, list[Ingredient]] = {}
    for ingredient in ingredients:
        by_category.setdefault(ingredient.category, []).append(ingredient)
    return by_category


def _assortment(
    rng: random.Random,
    count: int,
    ingredients: list[Ingredient],
    weekday: tuple[float, ...],
) -> tuple[list[Product], list[Recipe], list[_Demand]]:
    by_category = _by_category(ingredients)
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
            _Demand(
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


def _suppliers(rng: random.Random, count: int, ingredients: list[Ingredient]) -> list[Supplier]:
    items: list[list[SupplierItem]] = [[] for _ in range(count)]
    for index, ingredient in enumerate(ingredients):
        spec = CATEGORIES[ingredient.category]
        offered_by = min(count, rng.choices((1, 2, 3), (0.5, 0.35, 0.15))[0])
        # The first ingredients go round the suppliers so that every supplier offers something.
        primary = index if index < count else rng.randrange(count)
        others = rng.sample([s for s in range(count) if s != primary], offered_by - 1)
        base_price = rng.uniform(*spec.price_per_unit)
        for supplier in sorted([primary, *others]):
            pack_size = float(rng.choice(spec.pack_sizes))
            items[supplier].append(
                SupplierItem(
                    ingredient_id=ingredient.ingredient_id,
                    unit_price=round(base_price * rng.uniform(0.9, 1.15), 3),
                    lead_time_days=rng.randint(1, 2) if spec.fresh else rng.randint(2, 7),
                    moq=pack_size * rng.randint(0, 3),
                    pack_size=pack_size,
                )
            )
    seen: dict[str, int] = {}
    return [
        Supplier(
            supplier_id=f"S{n + 1:03d}",
            name=_numbered(SUPPLIER_NAMES[n % len(SUPPLIER_NAMES)], seen),
            items=tuple(items[n]),
        )
        for n in range(count)
    ]


def _stock_lots(
    rng: random.Random,
    ingredients: list[Ingredient],
    recipes: list[Recipe],
    demands: list[_Demand],
    today: date,
) -> list[StockLot]:
    daily_use: dict[str, float] = {}
    today_only = _Days.starting(today, 1, today=today)
    for recipe, demand in zip(recipes, demands, strict=True):
        # Out-of-season products still keep a little stock on hand.
        units_per_day = max(demand.means(today_only)[0], 0.1 * demand.base_units)
        for line in recipe.lines:
            use = line.quantity_per_batch * units_per_day / recipe.batch_yield_units
            daily_use[line.ingredient_id] = daily_use.get(line.ingredient_id, 0.0) + use
    lots: list[StockLot] = []
    for ingredient in ingredients:
        if ingredient.ingredient_id not in daily_use:
            continue
        total = daily_use[ingredient.ingredient_id] * rng.uniform(1.0, 6.0)
        shares = [rng.random() + 0.2 for _ in range(rng.randint(1, 3))]
        life = ingredient.shelf_life_days
        expiries = (
            [None] * len(shares)
            if life is None
            else sorted(today + timedelta(days=rng.randint(-2, life)) for _ in shares)
        )
        for share, expires_on in zip(shares, expiries, strict=True):
            quantity = total * share / sum(shares)
            lots.append(
                StockLot(
                    lot_id=f"L{len(lots) + 1:05d}",
                    ingredient_id=ingredient.ingredient_id,
                    quantity=float(round(quantity)) if ingredient.unit == "pcs" else round(quantity, 3),
                    expires_on=expires_on,
                )
            )
    return lots


# Public holidays on which the bakeries stay open (the closed ones are in `closed_dates`).
_OPEN_HOLIDAYS = ((1, 6), (5, 1), (8, 15), (10, 3), (11, 1))
_FRESH_SUPPLIER_WEEKDAYS = (0, 1, 2, 3, 4, 5)
DOUGH_COMPONENT_ID = "C0001"
# The shared dough base per 10 kg batch: flour, yeast and salt of the core ingredients (water is free).
_DOUGH_BATCH_KG = 10.0
_DOUGH_FLOUR_SHARE, _DOUGH_YEAST_SHARE, _DOUGH_SALT_SHARE = 0.6, 0.012, 0.012
_DOUGH_FLOUR_MOVED = 0.5  # share of a bread recipe's core flour that goes through the dough base


def _terms_rng(seed: int, tenant_id: str) -> random.Random:
    """The stream of every attribute added after the first release, so older attributes stay identical."""
    return random.Random(f"{seed}:{tenant_id}:terms")


def _supplier_terms(rng: random.Random, suppliers: list[Supplier], ingredients: list[Ingredient]) -> list[Supplier]:
    """Delivery weekdays, cut-off, order value and cost, reliability, and per item lead-time sd, tiers, max.

    On-time rate 0.85–0.99; lead_time_sd_days follows it (`delay_sd_days`). A supplier is fresh when
    at least a third of its items are of a fresh category: it delivers Monday to Saturday; a
    dry-goods supplier delivers on 2–3 fixed weekdays between Monday and Friday.
    """
    fresh_ids = {i.ingredient_id for i in ingredients if CATEGORIES[i.category].fresh}
    result = []
    for supplier in suppliers:
        fresh = 3 * sum(item.ingredient_id in fresh_ids for item in supplier.items) >= len(supplier.items)
        on_time_rate = round(rng.uniform(0.85, 0.99), 3)
        weekdays = _FRESH_SUPPLIER_WEEKDAYS if fresh else tuple(sorted(rng.sample(range(5), rng.randint(2, 3))))
        items = []
        for item in supplier.items:
            tiers: tuple[PriceTier, ...] = ()
            if rng.random() < 0.3:  # volume discounts from a few packs on
                first = max(item.moq, item.pack_size) * rng.randint(3, 6)
                tiers = (
                    PriceTier(min_quantity=first, unit_price=round(item.unit_price * rng.uniform(0.92, 0.97), 3)),
                    PriceTier(min_quantity=first * 3, unit_price=round(item.unit_price * rng.uniform(0.85, 0.9), 3)),
                )
            max_quantity = item.pack_size * 200 if rng.random() < 0.2 else None  # far above a fortnight's use
            items.append(
                item.model_copy(
                    update={
                        "lead_time_sd_days": round(delay_sd_days(on_time_rate) * rng.uniform(0.8, 1.2), 2),
                        "price_tiers": tiers,
                        "max_quantity": max_quantity,
                    }
                )
            )
        result.append(
            supplier.model_copy(
                update={
                    "items": tuple(items),
                    "delivery_weekdays": weekdays,
                    "order_cutoff": time(rng.randint(10, 18), 0),
                    "min_order_value": float(rng.choice((0, 50, 100, 150, 250))),
                    "order_cost": round(rng.uniform(15.0, 40.0), 2),
                    "on_time_rate": on_time_rate,
                    "quality_score": round(rng.uniform(0.7, 1.0), 2),
                }
            )
        )
    return result


def delay_sd_days(on_time_rate: float) -> float:
    """Standard deviation (days) of a delay that is 0 with probability `on_time_rate`, else 1, 2 or 3 days.

    Late deliveries are 1–3 days late (uniformly) in the simulation; the generated items'
    `lead_time_sd_days` are this ± 20 %, so the planners' safety stock sees the suppliers' real spread.
    """
    late = 1.0 - on_time_rate
    return math.sqrt(late * 14 / 3 - (late * 2) ** 2)  # E[D²] − E[D]², with E[D | late] = 2, E[D² | late] = 14/3


def _with_salvage(rng: random.Random, product: Product) -> Product:
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
    by_category = _by_category(ingredients)
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
    product, recipe, _ = _product_and_recipe(rng, product_id, family, _by_category(ingredients), {})
    return _with_salvage(rng, product.model_copy(update={"name": name})), recipe


def busiest_weekday_oven_minutes(recipes: Sequence[Recipe], sales: Sequence[SalesHistory]) -> float:
    """Oven minutes the mean units sold on the busiest weekday need (known days only, fractional batches)."""
    by_product = {recipe.product_id: recipe for recipe in recipes}
    minutes_by_weekday = [0.0] * 7
    for history in sales:
        recipe = by_product.get(history.product_id)
        if recipe is None:
            continue
        first_weekday = history.start_date.weekday()
        for weekday in range(7):
            known = [
                units
                for offset, units in enumerate(history.daily_units)
                if units is not None and (first_weekday + offset) % 7 == weekday
            ]
            if known:
                mean_units = sum(known) / len(known)
                minutes_by_weekday[weekday] += mean_units / recipe.batch_yield_units * recipe.oven_minutes_per_batch
    return max(minutes_by_weekday)


def generate_tenant(
    tenant_id: str,
    *,
    profile: Profile,
    seed: int,
    today: date,
    components: bool = False,
    history_days: int | None = None,
) -> TenantData:
    """A realistic synthetic tenant whose sales history ends yesterday (`today - 1`).

    `history_days` overrides the profile's history length (the simulator needs history before the
    simulated period); `components=True` moves part of the bread recipes into a shared dough base
    made a day ahead (see `with_dough_component`). Supplier terms, salvage values, open holidays and
    the capacity come from a separate random stream, so the other attributes are the same as
    without them. Raises `ValueError` for an unknown profile or `history_days` < 1.
    """
    if profile not in PROFILES:
        raise ValueError(
            f"unknown synthetic profile {profile!r} for tenant {tenant_id!r}; use one of {sorted(PROFILES)}"
        )
    if history_days is not None and history_days < 1:
        raise ValueError(f"history_days must be at least 1 for tenant {tenant_id!r}, got {history_days}")
    size = PROFILES[profile]
    total_days = size.history_days if history_days is None else history_days
    rng = random.Random(f"{seed}:{tenant_id}")
    calendar_weekdays = (6,) if rng.random() < 0.4 else ()
    start = today - timedelta(days=total_days)
    # Holidays cover the history and the planning horizon (at most 60 days, so into next year).
    closed_dates = tuple(
        date(year, month, day)
        for year in range(start.year, today.year + 2)
        for month, day in ((1, 1), (12, 25), (12, 26))
    )
    calendar = Calendar(closed_weekdays=calendar_weekdays, closed_dates=closed_dates)
    weekday = tuple(f * rng.uniform(0.95, 1.05) for f in WEEKDAY_FACTORS)

    ingredients = _ingredients(rng, size.ingredients)
    products, recipes, demands = _assortment(rng, size.products, ingredients, weekday)
    suppliers = _suppliers(rng, size.suppliers, ingredients)
    stock_lots = _stock_lots(rng, ingredients, recipes, demands, today)

    days = _Days.starting(start, total_days, today=today)
    is_open = [calendar.is_open(start + timedelta(days=n)) for n in range(total_days)]
    # One shock per day shared by all products (weather, local events), on top of per-product noise.
    day_shock = [rng.lognormvariate(-0.005, 0.1) for _ in is_open]
    sales = []
    for product, demand in zip(products, demands, strict=True):
        units: list[int | None] = [
            _poisson(rng, mean * shock) if open_ else None
            for mean, shock, open_ in zip(demand.means(days), day_shock, is_open, strict=True)
        ]
        sales.append(SalesHistory(product_id=product.product_id, start_date=start, daily_units=tuple(units)))
    name = f"{rng.choice(NAME_PARTS[0])} {rng.choice(NAME_PARTS[1])}"
    timezone = rng.choice(TIMEZONES)

    terms = _terms_rng(seed, tenant_id)
    suppliers = _supplier_terms(terms, suppliers, ingredients)
    products = [_with_salvage(terms, product) for product in products]
    holidays = sorted(terms.sample(_OPEN_HOLIDAYS, 3))
    calendar = calendar.model_copy(
        update={
            "holidays": tuple(
                date(year, month, day) for year in range(start.year, today.year + 2) for month, day in holidays
            )
        }
    )
    final_recipes, dough = with_dough_component(recipes, products, ingredients) if components else (tuple(recipes), ())
    oven_minutes = busiest_weekday_oven_minutes(final_recipes, sales)
    return TenantData(
        tenant_id=tenant_id,
        name=name,
        timezone=timezone,
        products=tuple(products),
        recipes=final_recipes,
        ingredients=tuple(ingredients),
        stock_lots=tuple(stock_lots),
        suppliers=tuple(suppliers),
        sales=tuple(sales),
        calendar=calendar,
        components=dough,
        capacity=Capacity(oven_minutes_per_day=round(CAPACITY_HEADROOM * oven_minutes)),
    )
