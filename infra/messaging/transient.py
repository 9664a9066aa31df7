"""Which failures mean a dependency was unavailable (retry as long as it takes) rather than a bug or
bad data (retry a bounded number of times, then park): the consumer shell and the scans ask this."""

import asyncpg
from aiokafka.errors import KafkaError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from contracts.errors import TransientError

_UNAVAILABLE: tuple[type[BaseException], ...] = (
    TransientError,
    OSError,  # includes ConnectionError and TimeoutError
    KafkaError,
    OperationalError,
    InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.LockNotAvailableError,  # lock_timeout: the lock holder finishes, a retry gets it
)


def is_transient(error: BaseException) -> bool:
    """True when a dependency was unavailable (retry as long as it takes), False for a bug or bad
    data (retry a bounded number of times, then park). Looks through wrapped causes."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, _UNAVAILABLE):
            return True
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False
