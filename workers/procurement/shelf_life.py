"""How long an ingredient keeps after delivery, when its master data does not say.

Pure. `Ingredient.shelf_life_days` wins; otherwise the category default below applies (case-insensitive
category name). Categories that do not perish (salt, sugar, packaging) default to None: the stock never
expires. A category not in the table is assumed perishable within CONSERVATIVE_DEFAULT_DAYS, so an
unknown ingredient is never ordered for half a year at once.
"""

from contracts.planning import Ingredient

CATEGORY_SHELF_LIFE_DAYS: dict[str, int | None] = {
    # short: fresh goods
    "dairy": 10,
    "cheese": 14,
    "eggs": 21,
    "yeast": 14,
    "fruit": 5,
    # medium
    "fats": 30,
    # long: dry goods
    "flour": 180,
    "seeds": 180,
    "dried fruit": 180,
    "nuts": 120,
    "chocolate": 180,
    "spices": 365,
    # none: does not perish
    "sugar": None,
    "salt": None,
    "packaging": None,
}

CONSERVATIVE_DEFAULT_DAYS = 30


def shelf_life_days(ingredient: Ingredient) -> int | None:
    """Days a delivered lot stays usable (usable on days < delivery + this); None: never expires."""
    if ingredient.shelf_life_days is not None:
        return ingredient.shelf_life_days
    return CATEGORY_SHELF_LIFE_DAYS.get(ingredient.category.strip().lower(), CONSERVATIVE_DEFAULT_DAYS)


def shelf_life_source(ingredient: Ingredient) -> str:
    """Where `shelf_life_days` came from, for the reasoning: "ingredient", "category" or "default"."""
    if ingredient.shelf_life_days is not None:
        return "ingredient"
    if ingredient.category.strip().lower() in CATEGORY_SHELF_LIFE_DAYS:
        return "category"
    return "default"
