"""The benchmark's own database and topics, next to the ones a person's `make demo` and `serve` use.

Before, the benchmark seeded its tenants into the configured database and published on the default
topics: a `make demo` run afterwards consumed the benchmark tenants' `PlanReady` events. Now it runs
on the same Postgres server and Kafka cluster, in database `<database>_bench` (made when missing,
kept between runs: each run seeds tenants under its own prefix) and under topic prefix `bench.`.
`BAKEPLAN_BENCH_DATABASE_URL` names another database; a `BAKEPLAN_TOPIC_PREFIX` that is set is kept.
"""

import os

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from infra.settings import Settings

TOPIC_PREFIX = "bench."
DATABASE_SUFFIX = "_bench"


def bench_settings(configured: Settings) -> Settings:
    """`configured` with the benchmark's own database URL and topic prefix."""
    if configured.role_urls_configured:
        raise SystemExit(
            "bench.system connects every process with DATABASE_URL, into a database of its own: unset "
            "BAKEPLAN_DB_ROLES and BAKEPLAN_DB_ROLE_URLS for the benchmark"
        )
    url = os.environ.get("BAKEPLAN_BENCH_DATABASE_URL")
    if not url:
        server = make_url(configured.database_url)
        url = server.set(database=f"{server.database or 'bakeplan'}{DATABASE_SUFFIX}").render_as_string(
            hide_password=False
        )
    prefix = configured.topic_prefix or TOPIC_PREFIX
    return configured.model_copy(update={"database_url": url, "topic_prefix": prefix})


async def ensure_database(configured: Settings, url: str) -> bool:
    """Create the database of `url` on its server, through the operator's `configured` URL, when it
    is missing; True when it was made."""
    name = make_url(url).database
    admin = create_async_engine(configured.database_url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            exists = (
                await conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name})
            ).first()
            if exists is None:
                await conn.execute(text(f'CREATE DATABASE "{name}"'))
                return True
            return False
    finally:
        await admin.dispose()
