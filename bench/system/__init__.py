"""The system benchmark: every component its own process on the real local Kafka and Postgres.

    uv run bakeplan stack up
    uv run python -m bench.system                # every scenario; prints a table, writes JSON
    uv run python -m bench.system --quick        # smaller counts, a few minutes

See docs/benchmarks.md for the scenarios, the machine and the results.
"""
