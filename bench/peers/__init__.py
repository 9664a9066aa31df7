"""Peer engines run with bakeplan's saga shape on the same machine and Postgres (docs/benchmarks.md, "Peers")."""
