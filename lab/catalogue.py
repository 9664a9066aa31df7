"""The bakery catalogue the synthetic tenants are drawn from: ingredient categories, product families,
weekly and yearly demand shapes, names.

Plain data, no randomness: `lab.synthetic` draws from it with its seeded streams.
"""

from dataclasses import dataclass

from contracts.planning import IngredientUnit


@dataclass(frozen=True)
class Category:
    unit: IngredientUnit
    shelf_life_days: tuple[int, int] | None  # None: does not perish
    price_per_unit: tuple[float, float]
    pack_sizes: tuple[float, ...]
    per_kg_dough: tuple[float, float]  # quantity per kg of batch dough; packaging is per product unit
    fresh: bool  # delivered within 1-2 days
    names: tuple[str, ...]  # the first name of a core category is the core ingredient


CATEGORIES: dict[str, Category] = {
    "flour": Category(
        "kg",
        (180, 365),
        (0.45, 1.2),
        (25, 10),
        (0.5, 0.6),
        False,
        (
            "Wheat flour T550",
            "Rye flour T1150",
            "Spelt flour T630",
            "Wholemeal wheat flour",
            "Rye meal",
            "Durum semolina",
            "Oat flakes",
        ),
    ),
    "dairy": Category(
        "l", (10, 21), (0.9, 4.0), (10, 5), (0.05, 0.3), True, ("Whole milk", "Cream 30%", "Buttermilk", "Skimmed milk")
    ),
    "yeast": Category(
        "kg",
        (14, 30),
        (1.5, 4.0),
        (1, 0.5),
        (0.01, 0.03),
        True,
        ("Fresh yeast", "Dry yeast", "Sourdough starter culture"),
    ),
    "salt": Category(
        "kg", None, (0.3, 0.8), (25, 10), (0.008, 0.012), False, ("Salt", "Pretzel salt", "Iodised sea salt")
    ),
    "fats": Category(
        "kg",
        (30, 120),
        (5.0, 9.0),
        (10, 2.5),
        (0.05, 0.3),
        False,
        ("Butter", "Margarine", "Clarified butter", "Laminating butter"),
    ),
    "sugar": Category(
        "kg",
        None,
        (0.8, 3.5),
        (25, 10),
        (0.02, 0.2),
        False,
        ("Sugar", "Icing sugar", "Brown sugar", "Glucose syrup", "Honey"),
    ),
    "eggs": Category(
        "pcs", (21, 28), (0.2, 0.35), (30, 180), (2.0, 8.0), True, ("Eggs size M", "Eggs size L", "Free-range eggs")
    ),
    "cheese": Category(
        "kg", (14, 30), (3.0, 9.0), (5, 2.5), (0.1, 0.4), True, ("Quark", "Cream cheese", "Mascarpone", "Ricotta")
    ),
    "fruit": Category(
        "kg",
        (5, 14),
        (2.0, 8.0),
        (5, 10),
        (0.05, 0.4),
        True,
        ("Apples", "Strawberries", "Cherries", "Plums", "Raspberries", "Lemons", "Pumpkin"),
    ),
    "dried fruit": Category(
        "kg",
        (180, 365),
        (4.0, 10.0),
        (10, 5),
        (0.05, 0.3),
        False,
        ("Raisins", "Candied orange peel", "Dried cranberries", "Dried apricots"),
    ),
    "nuts": Category(
        "kg",
        (120, 270),
        (7.0, 18.0),
        (10, 5),
        (0.03, 0.2),
        False,
        ("Hazelnuts", "Almonds", "Walnuts", "Pistachios", "Marzipan"),
    ),
    "seeds": Category(
        "kg",
        (180, 365),
        (2.0, 6.0),
        (25, 10),
        (0.02, 0.12),
        False,
        ("Sunflower seeds", "Sesame", "Poppy seeds", "Pumpkin seeds", "Linseed"),
    ),
    "chocolate": Category(
        "kg",
        (180, 365),
        (6.0, 15.0),
        (10, 5, 2.5),
        (0.05, 0.25),
        False,
        ("Dark chocolate", "Cocoa powder", "Milk chocolate", "Chocolate drops"),
    ),
    "spices": Category(
        "kg",
        (365, 730),
        (10.0, 60.0),
        (1, 0.5),
        (0.002, 0.01),
        False,
        ("Cinnamon", "Cardamom", "Gingerbread spice", "Caraway", "Nutmeg", "Vanilla paste"),
    ),
    "packaging": Category(
        "pcs",
        None,
        (0.02, 0.5),
        (250, 500, 1000),
        (1.0, 1.0),
        False,
        ("Paper bags", "Cake boxes", "Bread bags", "Pastry trays"),
    ),
}
# The first ingredient ids, in this order, so that most recipes share them.
CORE_CATEGORIES = ("flour", "dairy", "yeast", "salt", "fats", "sugar", "eggs")


@dataclass(frozen=True)
class Family:
    names: tuple[str, ...]
    unit_kg: tuple[float, ...]  # weight of one sold unit
    price_per_kg: tuple[float, float]
    batch_yield: tuple[int, int]
    oven_minutes: tuple[int, int]
    shelf_life_days: tuple[int, int]
    base_units: tuple[int, int]  # typical daily units sold
    required: tuple[str, ...]  # ingredient categories every recipe of the family has
    optional: tuple[str, ...]
    share: float  # relative frequency in an assortment


FAMILY_SPECS: dict[str, Family] = {
    "bread": Family(
        (
            "Sourdough Rye",
            "Farmhouse Loaf",
            "Spelt Bread",
            "Multigrain Loaf",
            "Baguette",
            "Ciabatta",
            "Wholemeal Loaf",
            "Toast Bread",
        ),
        (0.5, 0.75, 1.0, 1.5),
        (3.0, 7.0),
        (6, 24),
        (35, 60),
        (2, 5),
        (10, 80),
        ("flour", "yeast", "salt"),
        ("flour", "seeds", "dairy", "fats", "packaging"),
        0.3,
    ),
    "rolls": Family(
        ("Kaiser Roll", "Seeded Roll", "Pretzel", "Rye Roll", "Milk Roll"),
        (0.06, 0.08, 0.1),
        (6.0, 12.0),
        (30, 60),
        (15, 25),
        (1, 2),
        (40, 200),
        ("flour", "yeast", "salt"),
        ("dairy", "fats", "seeds", "sugar", "packaging"),
        0.2,
    ),
    "pastry": Family(
        ("Croissant", "Pain au Chocolat", "Cinnamon Bun", "Danish", "Apple Turnover"),
        (0.07, 0.09, 0.12),
        (15.0, 30.0),
        (24, 48),
        (15, 25),
        (1, 2),
        (15, 120),
        ("flour", "fats", "sugar", "yeast"),
        ("dairy", "eggs", "chocolate", "fruit", "nuts", "spices", "packaging"),
        0.2,
    ),
    "cake": Family(
        ("Cheesecake", "Black Forest Cake", "Apple Pie", "Carrot Cake", "Chocolate Cake"),
        (1.2, 1.5, 2.0),
        (10.0, 15.0),
        (6, 12),
        (40, 60),
        (2, 4),
        (5, 25),
        ("flour", "sugar", "eggs", "fats"),
        ("dairy", "cheese", "fruit", "chocolate", "nuts", "spices", "packaging"),
        0.12,
    ),
    "cookies": Family(
        ("Butter Cookies", "Florentines", "Oat Cookies", "Almond Biscuits"),
        (0.03, 0.05),
        (20.0, 40.0),
        (30, 60),
        (10, 15),
        (3, 5),
        (10, 60),
        ("flour", "fats", "sugar"),
        ("eggs", "nuts", "chocolate", "spices", "dried fruit", "packaging"),
        0.08,
    ),
    "seasonal": Family(
        ("Stollen", "Gingerbread", "Hot Cross Bun", "Strawberry Tart", "Pumpkin Bread"),
        (0.1, 0.5, 1.0),
        (10.0, 25.0),
        (6, 40),
        (20, 60),
        (2, 5),
        (10, 60),
        ("flour", "sugar", "fats", "eggs"),
        ("yeast", "fruit", "dried fruit", "nuts", "spices", "packaging"),
        0.1,
    ),
}
FAMILIES: tuple[str, ...] = tuple(FAMILY_SPECS)
SEASON_PEAK_DAY_OF_YEAR = {
    "Stollen": 344,
    "Gingerbread": 335,
    "Hot Cross Bun": 95,
    "Strawberry Tart": 166,
    "Pumpkin Bread": 288,
}
WEEKDAY_FACTORS = (0.85, 0.8, 0.9, 0.95, 1.1, 1.45, 1.05)  # Monday … Sunday
EVE_FACTORS = {(12, 24): 1.6, (12, 31): 1.3}  # shoppers stock up before the holidays
TIMEZONES = (
    "Europe/Berlin",
    "Europe/Vienna",
    "Europe/Zurich",
    "Europe/Amsterdam",
    "Europe/Paris",
    "Europe/London",
    "Europe/Copenhagen",
)
NAME_PARTS = (("Golden", "Rustic", "Old Town", "Sunrise", "Mill Lane", "Hearth"), ("Bakery", "Bakehouse", "Breads"))
SUPPLIER_NAMES = (
    "Northern Mills",
    "Valley Dairy",
    "Baker's Wholesale",
    "Golden Grain Co.",
    "FreshFarm Produce",
    "PackRight Supplies",
    "Nut & Seed Traders",
    "Cocoa Partners",
    "Spice Route",
    "Hansen Egg Farm",
    "Metro Cash & Carry",
    "Alpine Butter",
)
