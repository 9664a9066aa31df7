"""Shared message plumbing: codec, transactional outbox, idempotent inbox, consumer shell, dead letters."""
