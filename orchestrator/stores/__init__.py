"""Adapters of the orchestrator's store ports: Postgres, and an in-memory fake for fast tests."""
