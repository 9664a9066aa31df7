"""Every Kafka topic bakeplan uses, in one place."""

from enum import StrEnum


class Topic(StrEnum):
    """Topic names. Every message is keyed by `tenant_id`, so one tenant's messages stay ordered."""

    TRIGGERS = "bakeplan.planning.triggers"
    LOW_STOCK = "bakeplan.inventory.low-stock"
    FEEDS = "bakeplan.masterdata.feeds"
    """Live data from a bakery's own systems: closed sales days, stock counts, master-data changes.
    One topic, so one tenant's changes apply in the order they were sent (docs/feeds.md)."""
    SNAPSHOTS = "bakeplan.planning.snapshots"
    FORECASTING_COMMANDS = "bakeplan.forecasting.commands"
    PRODUCTION_COMMANDS = "bakeplan.production.commands"
    PROCUREMENT_COMMANDS = "bakeplan.procurement.commands"
    STEP_REPLIES = "bakeplan.planning.replies"
    PLANS = "bakeplan.planning.plans"
    ALERTS = "bakeplan.alerts"
    PURCHASE_ORDERS = "bakeplan.purchasing.orders"
    """Released and cancelled purchase orders, for the supplier channels (docs/orders.md)."""
    PURCHASING_EVENTS = "bakeplan.purchasing.events"
    """What comes back: orders sent, confirmed by the supplier, goods received (docs/orders.md)."""
    DEAD_LETTER = "bakeplan.dead-letter"
