"""Seeded synthetic bakery tenants: master data, stock and sales history that look like a real chain.

The package's public names; `tenant` holds the generator.
"""

from lab.synthetic.tenant import (
    CAPACITY_HEADROOM,
    DOUGH_COMPONENT_ID,
    PROFILES,
    Profile,
    ProfileSize,
    TenantData,
    busiest_weekday_oven_minutes,
    delay_sd_days,
    generate_tenant,
    product_with_recipe,
    with_dough_component,
)

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
