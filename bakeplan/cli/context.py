"""What a command runs in: the settings from the environment, one database transaction, today's date."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.terminal import parse_day
from infra.db import create_engine
from infra.settings import Settings

T = TypeVar("T")


def load_settings() -> Settings:
    """The settings from the `BAKEPLAN_*` environment variables, read when a command runs (not at import)."""
    return Settings()


def with_db(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    """Run `work` in one transaction on a one-connection engine, disposed of afterwards; its result."""

    async def run() -> T:
        engine = create_engine(load_settings(), pool_size=1)
        try:
            async with engine.begin() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def date_or_today(value: str | None) -> date:
    """`value` as a date (exit 2 naming `--date` when it is not one), or today in UTC when it is None."""
    return datetime.now(UTC).date() if value is None else parse_day(value, "--date")
