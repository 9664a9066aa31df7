"""`bakeplan console`: the operator's web console over the same Postgres (and Kafka) the processes use.

Server-rendered pages (FastAPI + Jinja), a few lines of JavaScript to refresh the runs list, SVG charts
drawn on the server. Reading goes through the CLI's read models (`bakeplan.cli.run_views`, ...) and
operator actions through the CLI's own use cases, so the console and the CLI cannot disagree.
"""
