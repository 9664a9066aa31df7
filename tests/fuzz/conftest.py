"""The fuzz tier's database: one of its own, migrated once, dropped at the end of the tier.

Fuzzed valid messages start sagas, book receipts and record deliveries that no worker ever finishes;
in a database of their own they cannot meet another tier's scans or counts (or theirs ours).
"""

import uuid
from collections.abc import Iterator

import pytest

from bakeplan.migrate import upgrade
from infra.settings import Settings
from tests.conftest import _own_database


@pytest.fixture(scope="package")
def fuzz_settings(database_url: str) -> Iterator[Settings]:
    """Settings on the tier's own database and topic prefix; few delivery attempts (a bug's record is
    parked after them), and no bound on running sagas (a deferred trigger would only wait)."""
    with _own_database(database_url) as url:
        settings = Settings(
            database_url=url,
            topic_prefix=f"fuzz-{uuid.uuid4().hex[:8]}.",
            max_delivery_attempts=3,
            max_running_sagas=0,
        )
        upgrade(settings)
        yield settings
