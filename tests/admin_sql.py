"""Statements that must run outside a transaction (CREATE/DROP DATABASE, roles), for tests that make
databases of their own on the session's server (e2e, integration)."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine


async def admin_sql(url: str, *statements: str) -> None:
    """Run `statements` in order, each committed at once, on the server of `url`."""
    admin = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            for statement in statements:
                await conn.execute(text(statement))
    finally:
        await admin.dispose()
