"""The tenant files, one per entity, and their columns: the single table that reading, writing, the
template and docs/import.md follow.

Each file maps to one `masterdata` table (the tenant file to the tenant row). A column's `field` is
the table column it fills (`calendar.closed_weekdays`: a key inside the tenant's JSON), its `kind`
says how a cell is written (see `orchestrator.tenant_files.cells`), `required` that the column must
be present and its cells non-empty, `references` the file whose key a cell must name. A `unit`
column converts the quantity column named by `converts` into the unit of the row's `unit_of`
reference. The two `examples` of every column make the template (`bakeplan import --template`) one
consistent bakery.
"""

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "id",
    "text",
    "int",
    "decimal",
    "date",
    "time",
    "bool",
    "weekdays",
    "dates",
    "tiers",
    "unit",
    "base_unit",
    "zone",
    "currency",
]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    doc: str
    examples: tuple[str, str]
    required: bool = True
    field: str = ""
    references: str = ""
    converts: str = ""
    unit_of: str = ""

    @property
    def target(self) -> str:
        """The table column (or `group.key` in the tenant's JSON) this column fills."""
        return self.field or self.name


@dataclass(frozen=True)
class TenantFile:
    name: str
    table: str
    doc: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    required: bool = False

    @property
    def file_name(self) -> str:
        return f"{self.name}.csv"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


def _qty(doc: str, examples: tuple[str, str], name: str = "quantity") -> Column:
    return Column(name, "decimal", doc, examples)


def _unit(converts: str, unit_of: str, examples: tuple[str, str], of_what: str = "ingredient") -> Column:
    return Column(
        "unit",
        "unit",
        f"unit of `{converts}`: g, kg, ml, l or pcs, converted to the {of_what}'s unit; empty: already in it",
        examples,
        required=False,
        converts=converts,
        unit_of=unit_of,
    )


FILES: tuple[TenantFile, ...] = (
    TenantFile(
        "tenant",
        "tenants",
        "the bakery's settings: at most one row; absent: kept (a new tenant gets defaults)",
        (),
        (
            Column("name", "text", "the bakery's name", ("Bäckerei Kiel", "Bäckerei Kiel"), required=False),
            Column(
                "time_zone",
                "zone",
                "IANA time zone of the daily plan; a new tenant needs it here or `--time-zone`",
                ("Europe/Berlin", "Europe/Berlin"),
                required=False,
                field="timezone",
            ),
            Column(
                "currency",
                "currency",
                "ISO 4217 code of prices and order values; empty: kept, a new tenant EUR",
                ("EUR", "EUR"),
                required=False,
            ),
            Column(
                "closed_weekdays",
                "weekdays",
                "weekdays the shops are closed, 0 = Monday … 6 = Sunday",
                ("6", "6"),
                required=False,
                field="calendar.closed_weekdays",
            ),
            Column(
                "closed_dates",
                "dates",
                "dates the shops are closed",
                ("2026-12-25;2026-12-26", "2026-12-25;2026-12-26"),
                required=False,
                field="calendar.closed_dates",
            ),
            Column(
                "holidays",
                "dates",
                "open days with holiday demand",
                ("2026-12-24", "2026-12-24"),
                required=False,
                field="calendar.holidays",
            ),
            Column(
                "oven_minutes_per_day",
                "int",
                "oven capacity per day; empty: unlimited",
                ("2400", "2400"),
                required=False,
                field="capacity.oven_minutes_per_day",
            ),
            Column(
                "mixer_minutes_per_day",
                "int",
                "mixer capacity per day; empty: unlimited",
                ("", ""),
                required=False,
                field="capacity.mixer_minutes_per_day",
            ),
            Column(
                "service_level",
                "decimal",
                "default cycle service level, in (0.5, 1); empty: 0.95",
                ("0.95", "0.95"),
                required=False,
                field="policy.service_level",
            ),
            Column(
                "consolidation_window_days",
                "int",
                "days of needs one order may cover; empty: 7",
                ("7", "7"),
                required=False,
                field="policy.consolidation_window_days",
            ),
            Column(
                "dual_source",
                "bool",
                "split a need over two suppliers (true/false); empty: false",
                ("false", "false"),
                required=False,
                field="policy.dual_source",
            ),
            Column(
                "holding_cost_rate_per_year",
                "decimal",
                "stock holding cost per year, share of value; empty: 0.25",
                ("0.25", "0.25"),
                required=False,
                field="policy.holding_cost_rate_per_year",
            ),
            Column(
                "planned_at",
                "time",
                "local time the plan is made (HH:MM); empty: 04:30",
                ("04:30", "04:30"),
                required=False,
                field="policy.planned_at",
            ),
        ),
    ),
    TenantFile(
        "products",
        "products",
        "what the bakery sells",
        ("product_id",),
        (
            Column("product_id", "id", "the product's id", ("P-RYE", "P-ROLL")),
            Column("name", "text", "name", ("Rye loaf", "Wheat roll")),
            Column("family", "text", "product family (bread, rolls, pastry …)", ("bread", "rolls")),
            Column("unit_price", "decimal", "selling price per unit, money", ("4.50", "0.60")),
            Column("unit_cost", "decimal", "cost per unit, money", ("1.70", "0.20")),
            Column("shelf_life_days", "int", "days a unit can be sold, ≥ 1", ("3", "1")),
            Column("finished_stock_units", "int", "sellable units on hand this morning", ("0", "12")),
            Column(
                "salvage_value",
                "decimal",
                "what an unsold unit still brings, money; empty: 0",
                ("0.80", ""),
                required=False,
            ),
        ),
        required=True,
    ),
    TenantFile(
        "ingredients",
        "ingredients",
        "what recipes use and suppliers deliver",
        ("ingredient_id",),
        (
            Column("ingredient_id", "id", "the ingredient's id", ("I-FLOUR", "I-EGG")),
            Column("name", "text", "name", ("Wheat flour T550", "Eggs")),
            Column("unit", "base_unit", "the unit every quantity of it is kept in: kg, l or pcs", ("kg", "pcs")),
            Column("category", "text", "category (flour, dairy, eggs …): its default shelf life", ("flour", "eggs")),
            Column("shelf_life_days", "int", "days, ≥ 1; empty: the category's default", ("180", ""), required=False),
            Column(
                "service_level",
                "decimal",
                "target cycle service level in (0.5, 1); empty: the tenant's",
                ("", "0.98"),
                required=False,
            ),
        ),
        required=True,
    ),
    TenantFile(
        "suppliers",
        "suppliers",
        "who delivers",
        ("supplier_id",),
        (
            Column("supplier_id", "id", "the supplier's id", ("S-MILL", "S-FARM")),
            Column("name", "text", "name", ("Northern Mills", "Hof Petersen")),
            Column(
                "delivery_weekdays",
                "weekdays",
                "weekdays it delivers, 0 = Monday; empty: every day",
                ("0;2;4", ""),
                required=False,
            ),
            Column(
                "order_cutoff",
                "time",
                "orders after this local time count as the next day's (HH:MM)",
                ("10:00", ""),
                required=False,
            ),
            Column("min_order_value", "decimal", "per order, money; empty: 0", ("50", ""), required=False),
            Column("order_cost", "decimal", "fixed cost per order, money; empty: 0", ("5", ""), required=False),
            Column(
                "on_time_rate", "decimal", "share of deliveries on time, 0…1; empty: 1", ("0.97", ""), required=False
            ),
            Column("quality_score", "decimal", "0…1; empty: 1", ("0.9", ""), required=False),
        ),
        required=True,
    ),
    TenantFile(
        "supplier_offers",
        "supplier_items",
        "what a supplier sells of an ingredient, on which terms",
        ("supplier_id", "ingredient_id"),
        (
            Column("supplier_id", "id", "the supplier", ("S-MILL", "S-FARM"), references="suppliers"),
            Column("ingredient_id", "id", "the ingredient", ("I-FLOUR", "I-EGG"), references="ingredients"),
            Column("unit_price", "decimal", "price per ingredient unit below the first tier, money", ("0.74", "0.25")),
            Column(
                "price_tiers",
                "tiers",
                "from a quantity on, a lower price: `MIN:PRICE;MIN:PRICE` (ingredient unit, money)",
                ("250:0.70;1000:0.66", ""),
                required=False,
            ),
            Column("lead_time_days", "int", "days from order to delivery", ("2", "1")),
            Column(
                "lead_time_sd_days",
                "decimal",
                "standard deviation of the lead time, days; empty: 0",
                ("0.5", ""),
                required=False,
            ),
            Column("moq", "decimal", "minimum order quantity, ingredient unit", ("25", "30")),
            Column("pack_size", "decimal", "orders are whole multiples of this, ingredient unit", ("25", "30")),
            Column(
                "max_quantity",
                "decimal",
                "most one line may order, ingredient unit; empty: no limit",
                ("2000", ""),
                required=False,
            ),
        ),
        required=True,
    ),
    TenantFile(
        "components",
        "components",
        "intermediates made ahead (dough, levain, filling)",
        ("component_id",),
        (
            Column("component_id", "id", "the component's id", ("C-LEVAIN", "C-DOUGH")),
            Column("name", "text", "name", ("Rye levain", "Roll dough")),
            Column("unit", "base_unit", "unit of its yield and uses: kg, l or pcs", ("kg", "kg")),
            Column("batch_yield", "decimal", "made per batch, in its unit", ("10", "40")),
            Column("made_days_ahead", "int", "days before the bake it is made; empty: 0", ("1", "0"), required=False),
            Column("mixer_minutes_per_batch", "int", "empty: 0", ("10", "20"), required=False),
        ),
    ),
    TenantFile(
        "component_lines",
        "component_lines",
        "ingredients per component batch",
        ("component_id", "ingredient_id"),
        (
            Column("component_id", "id", "the component", ("C-LEVAIN", "C-DOUGH"), references="components"),
            Column("ingredient_id", "id", "the ingredient", ("I-FLOUR", "I-FLOUR"), references="ingredients"),
            _qty("per batch, in `unit`", ("5", "24000"), "quantity_per_batch"),
            _unit("quantity_per_batch", "ingredient_id", ("kg", "g")),
        ),
    ),
    TenantFile(
        "component_components",
        "component_components",
        "components inside a component (no cycles)",
        ("parent_id", "component_id"),
        (
            Column("parent_id", "id", "the component made", ("C-DOUGH", "C-DOUGH"), references="components"),
            Column("component_id", "id", "the component it uses", ("C-LEVAIN", "C-LEVAIN"), references="components"),
            _qty("per batch of the parent, in `unit`", ("2", "2"), "quantity_per_batch"),
            _unit("quantity_per_batch", "component_id", ("kg", "kg"), "component"),
        ),
    ),
    TenantFile(
        "recipes",
        "recipes",
        "how a product is baked: one row per product",
        ("product_id",),
        (
            Column("product_id", "id", "the product", ("P-RYE", "P-ROLL"), references="products"),
            Column("batch_yield_units", "int", "units per batch, ≥ 1", ("12", "40")),
            Column("oven_minutes_per_batch", "int", "oven minutes per batch", ("45", "18")),
            Column("mixer_minutes_per_batch", "int", "mixer minutes per batch; empty: 0", ("15", ""), required=False),
        ),
        required=True,
    ),
    TenantFile(
        "recipe_lines",
        "recipe_lines",
        "ingredients per recipe batch",
        ("product_id", "ingredient_id"),
        (
            Column("product_id", "id", "the recipe's product", ("P-RYE", "P-ROLL"), references="recipes"),
            Column("ingredient_id", "id", "the ingredient", ("I-FLOUR", "I-EGG"), references="ingredients"),
            _qty("per batch, in `unit`", ("3.5", "4"), "quantity_per_batch"),
            _unit("quantity_per_batch", "ingredient_id", ("kg", "pcs")),
        ),
        required=True,
    ),
    TenantFile(
        "recipe_components",
        "recipe_components",
        "components per recipe batch",
        ("product_id", "component_id"),
        (
            Column("product_id", "id", "the recipe's product", ("P-RYE", "P-ROLL"), references="recipes"),
            Column("component_id", "id", "the component", ("C-LEVAIN", "C-DOUGH"), references="components"),
            _qty("per batch, in `unit`", ("1.5", "4000"), "quantity_per_batch"),
            _unit("quantity_per_batch", "component_id", ("kg", "g"), "component"),
        ),
    ),
    TenantFile(
        "stock_lots",
        "stock_lots",
        "ingredient stock on hand, per lot",
        ("lot_id",),
        (
            Column(
                "lot_id",
                "id",
                "the lot's id",
                ("L-0001", "L-0002"),
            ),
            Column("ingredient_id", "id", "the ingredient", ("I-FLOUR", "I-EGG"), references="ingredients"),
            _qty("on hand, in `unit`, ≥ 0", ("125", "180")),
            _unit("quantity", "ingredient_id", ("kg", "pcs")),
            Column(
                "expires_on",
                "date",
                "last usable day; empty: does not expire",
                ("2027-03-01", "2026-12-12"),
                required=False,
            ),
        ),
    ),
    TenantFile(
        "open_purchase_orders",
        "open_purchase_orders",
        "orders placed and not yet delivered: supply",
        ("order_id",),
        (
            Column("order_id", "id", "the order line's id", ("PO-17", "PO-18")),
            Column("supplier_id", "id", "the supplier", ("S-MILL", "S-FARM"), references="suppliers"),
            Column("ingredient_id", "id", "the ingredient", ("I-FLOUR", "I-EGG"), references="ingredients"),
            _qty("ordered, in `unit`, > 0", ("500", "360")),
            _unit("quantity", "ingredient_id", ("kg", "pcs")),
            Column("delivery_date", "date", "expected delivery", ("2026-12-08", "2026-12-07")),
        ),
    ),
    TenantFile(
        "daily_sales",
        "daily_sales",
        "units sold per product and day; a missing day is closed or unknown",
        ("product_id", "day"),
        (
            Column("product_id", "id", "the product", ("P-RYE", "P-RYE"), references="products"),
            Column("day", "date", "the day", ("2026-12-01", "2026-12-02")),
            Column("units", "int", "units sold, ≥ 0", ("84", "91")),
        ),
    ),
    TenantFile(
        "regressors",
        "regressors",
        "outside daily signals (temperature, a festival flag)",
        ("name", "day"),
        (
            Column("name", "id", "the signal's name", ("temperature_c", "temperature_c")),
            Column("day", "date", "the day", ("2026-12-01", "2026-12-02")),
            Column("value", "decimal", "its value; empty: unknown", ("4.5", ""), required=False),
        ),
    ),
)

FILES_BY_NAME = {f.name: f for f in FILES}
