"""The async SQLAlchemy engine. Created by `create_app`, never at import time."""

import orjson
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from infra.settings import Settings


def server_settings(settings: Settings) -> dict[str, str]:
    """The session limits every connection starts with: a statement, a lock wait or an idle open
    transaction cannot hold a connection (and the locks it has) for ever."""
    return {
        "statement_timeout": str(settings.statement_timeout_ms),
        "lock_timeout": str(settings.lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(settings.idle_in_transaction_timeout_ms),
    }


def create_engine(settings: Settings, *, pool_size: int = 5, pre_ping: bool = True) -> AsyncEngine:
    """`pre_ping` tests each connection taken from the pool with a round trip; long-running handlers
    whose errors are retried anyway turn it off."""
    return create_async_engine(
        settings.database_url,
        connect_args={"server_settings": server_settings(settings)},
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=pre_ping,
        json_deserializer=orjson.loads,  # JSON and JSONB columns; several times faster than json.loads
    )


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
