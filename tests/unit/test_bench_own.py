"""The system benchmark never uses the database and topics of a person's `make demo` (bench/system/own.py)."""

import pytest
from sqlalchemy.engine import make_url

from bench.system.own import bench_settings
from infra.settings import Settings

pytestmark = pytest.mark.unit

DEMO = "postgresql+asyncpg://bakeplan:secret@db.example:5433/bakeplan"


def test_its_database_is_the_configured_ones_with_a_suffix_on_the_same_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BAKEPLAN_BENCH_DATABASE_URL", raising=False)
    ours = bench_settings(Settings(database_url=DEMO, topic_prefix=""))
    url = make_url(ours.database_url)
    assert (url.host, url.port, url.username, url.password) == ("db.example", 5433, "bakeplan", "secret")
    assert url.database == "bakeplan_bench"
    assert ours.topic_prefix == "bench."
    assert ours.topic("bakeplan.planning.plans") == "bench.bakeplan.planning.plans"


def test_a_named_database_and_a_set_topic_prefix_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEPLAN_BENCH_DATABASE_URL", "postgresql+asyncpg://b@other:5432/perf")
    ours = bench_settings(Settings(database_url=DEMO, topic_prefix="staging."))
    assert ours.database_url == "postgresql+asyncpg://b@other:5432/perf"
    assert ours.topic_prefix == "staging."


def test_per_role_database_urls_are_refused_with_what_to_unset() -> None:
    with pytest.raises(SystemExit, match="BAKEPLAN_DB_ROLES and BAKEPLAN_DB_ROLE_URLS"):
        bench_settings(Settings(database_url=DEMO, db_roles=True))
