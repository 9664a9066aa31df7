"""bakeplan's roof: the CLI (one module per command group), one composition root per process role,
and the database migrations."""
