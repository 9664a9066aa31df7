"""bakeplan: event-driven daily planning for bakery chains (CLI, settings and shared plumbing)."""
