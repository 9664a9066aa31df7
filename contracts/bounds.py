"""Upper bounds of every list in a message (`max_length`), documented in docs/contract.md ("Bounds").

A consumer validates them while decoding, so a message with an absurd list is parked at once
instead of making a planner run for an hour or exhaust memory (issue 16, "one bad thing must not stop
everything"). They are sized well above the largest tenant bakeplan plans for (a chain of a few
thousand products and ingredients, ten years of daily history, a 60-day horizon), and far below what
would hurt a worker. A record is limited in bytes too (BAKEPLAN_MAX_MESSAGE_BYTES).
"""

PRODUCTS = 5_000
"""Products of a tenant (and, one per product, its sales histories)."""
INGREDIENTS = 20_000
"""Ingredients of a tenant, and stock floors (at most one per ingredient)."""
RECIPES = 20_000
"""Recipes and intermediate components of a tenant."""
RECIPE_LINES = 500
"""Lines of one recipe or component."""
SUPPLIERS = 2_000
"""Suppliers of a tenant."""
SUPPLIER_ITEMS = 20_000
"""Items one supplier offers."""
PRICE_TIERS = 100
"""Price tiers of one supplier item."""
WEEKDAYS = 7
"""A set of weekdays."""
HISTORY_DAYS = 4_000
"""Days of a history or a calendar list (ten years and some)."""
REGRESSORS = 500
"""Named regressor series of a tenant."""
STOCK_LOTS = 100_000
"""Stock lots of a tenant (as a stock count allows)."""
OPEN_ORDERS = 100_000
"""Open purchase orders (lines) counted as supply."""
PLAN_LINES = 500_000
"""Lines of one step's result: forecast lines, batches, requirements, purchase lines (products or
ingredients × a 60-day horizon)."""
PURCHASE_ORDERS = 10_000
"""Purchase orders one release sends."""
ORDER_LINES = 10_000
"""Lines of one purchase order."""
RECEIPTS = 100_000
"""Delivered lines a snapshot carries for learning (the latest 30 per supplier are read)."""
FACTS = 100
"""Numbers one reasoning keeps."""
