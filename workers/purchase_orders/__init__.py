"""Purchase orders (docs/orders.md), shared by the components that touch them.

- `release`: the pure release rule (which lines are due, one order per supplier and delivery date,
  numbers, money), which the procurement worker runs as the saga's pivot step and replay re-runs;
- `lifecycle`: the pure status rules (released → sent → confirmed → partly_received → received, or
  cancelled), what a confirmation or a receipt changes and why one cannot be applied, and the
  quantity of each line still to come;
- `tables`, `store`: their tables in the procurement schema and the statements on them. The procurement
  worker writes released orders; the orchestrator counts open orders in each snapshot and applies
  what comes back (orchestrator/purchasing_store.py) in the snapshot's database.
"""
