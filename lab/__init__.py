"""Synthetic tenants, the bakery catalogue and the simulation world: for tests, benchmarks and demos."""
