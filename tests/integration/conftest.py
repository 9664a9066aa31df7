import uuid
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.db import create_engine
from infra.settings import Settings


@pytest.fixture(scope="session")
async def engine(db_settings: Settings) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_settings)
    yield engine
    await engine.dispose()


@pytest.fixture
def tenant_id() -> str:
    return f"it-{uuid.uuid4().hex[:10]}"
