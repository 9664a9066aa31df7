"""Seeded synthetic bakery tenants: master data, stock and sales history that look like a real chain.

Pure: no I/O and no clock. The same `(tenant_id, profile, seed, today)` always gives the same
`TenantData`; the random stream is derived from both `seed` and `tenant_id`, so tenants generated
with one seed still differ. Quantities are in the ingredient's unit, money in the tenant's currency.

`tenant` puts a tenant together (`generate_tenant`) from `assortment` (ingredients, products,
recipes, the dough base), `supply` (suppliers, their terms, the stock on hand) and `sales` (demand
and sales history). The names below are the package's public ones.
"""

from lab.synthetic.assortment import DOUGH_COMPONENT_ID, product_with_recipe, with_dough_component
from lab.synthetic.sales import busiest_weekday_oven_minutes
from lab.synthetic.supply import delay_sd_days
from lab.synthetic.tenant import CAPACITY_HEADROOM, PROFILES, Profile, ProfileSize, TenantData, generate_tenant

__all__ = [
    "CAPACITY_HEADROOM",
    "DOUGH_COMPONENT_ID",
    "PROFILES",
    "Profile",
    "ProfileSize",
    "TenantData",
    "busiest_weekday_oven_minutes",
    "delay_sd_days",
    "generate_tenant",
    "product_with_recipe",
    "with_dough_component",
]
