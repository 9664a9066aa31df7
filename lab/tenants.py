"""Synthetic tenants as they are seeded: the generator's master data and sales, started warm.

`lab.synthetic.generate_tenant` draws a tenant's master data and sales history (its stock is a
random draw with nothing on order: a *cold* start). `seeded_tenant` is what `bakeplan seed`, the
benchmarks and the test builders use: the same tenant with the stock lots and purchase orders in
flight of a bakery that has run on bakeplan's policy for some weeks (`lab.simulation.warm_start`).
`cold=True` gives the generator's tenant unchanged.

Pure: no I/O, no clock. The same arguments always give the same tenant.
"""

from datetime import date

from lab.simulation.warm_start import warm_start
from lab.synthetic import Profile, TenantData, generate_tenant


def seeded_tenant(
    tenant_id: str,
    *,
    profile: Profile,
    seed: int,
    today: date,
    components: bool = False,
    history_days: int | None = None,
    cold: bool = False,
) -> TenantData:
    """The synthetic tenant `generate_tenant` draws for these arguments, started warm unless `cold`.

    Warm or cold, the master data and the sales history (ending yesterday) are identical; only the
    stock lots and the open purchase orders differ. Raises `ValueError` as `generate_tenant` does.
    """
    tenant = generate_tenant(
        tenant_id, profile=profile, seed=seed, today=today, components=components, history_days=history_days
    )
    return tenant if cold else warm_start(tenant, seed=seed, today=today)
