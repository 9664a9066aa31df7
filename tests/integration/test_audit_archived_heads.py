"""`bakeplan audit verify --archived-heads`: once a tenant's oldest links are archived out of the
database (docs/audit.md, "Legal retention"), its chain goes on from the last archived link, and a
heads file that does not match the live rows, or cannot be read, says so."""

import asyncio
import os
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from infra.settings import Settings
from orchestrator.audit_verifier import ArchivedHead, ArchivedHeadsError, read_archived_heads
from tests.integration.test_audit_archive import append

pytestmark = pytest.mark.integration

HEADS_OF = (
    "SELECT tenant_id, max(seq), (array_agg(hash ORDER BY seq DESC))[1] FROM orchestrator.audit_events "
    "WHERE tenant_id = :t AND seq <= :upto GROUP BY tenant_id"
)
"""The heads file's query of docs/audit.md, over the rows that leave with the archived partition."""


async def archive_up_to(engine: AsyncEngine, tenant_id: str, upto: int) -> str:
    """The heads file's line for the tenant's links 1..upto, then those rows gone from the database (as
    a detached and dropped partition takes them: the append-only trigger does not see it, so here
    the session skips user triggers, as only a superuser may)."""
    async with engine.begin() as conn:
        tenant, seq, digest = (await conn.execute(text(HEADS_OF), {"t": tenant_id, "upto": upto})).one()
        await conn.execute(text("SET LOCAL session_replication_role = replica"))
        await conn.execute(
            text("DELETE FROM orchestrator.audit_events WHERE tenant_id = :t AND seq <= :upto"),
            {"t": tenant_id, "upto": upto},
        )
    return f"{tenant},{seq},{digest}\n"


def archived_tenant(db_settings: Settings, *, events: int, upto: int) -> tuple[str, str]:
    """A tenant of its own with `events` links, the first `upto` of them archived: its id and heads line."""
    tenant_id = f"it-{uuid.uuid4().hex[:10]}"

    async def setup() -> str:
        engine = create_async_engine(db_settings.database_url)
        try:
            await append(engine, tenant_id, events)
            return await archive_up_to(engine, tenant_id, upto)
        finally:
            await engine.dispose()

    return tenant_id, asyncio.run(setup())


def verify(db_settings: Settings, tenant_id: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "DATABASE_URL": db_settings.database_url}
    result = CliRunner().invoke(app, ["audit", "verify", "--tenant", tenant_id, *args], env=env)
    return result.exit_code, result.output


def test_a_chain_whose_oldest_links_were_archived_verifies_from_the_archived_head(
    db_settings: Settings, tmp_path: Path
) -> None:
    tenant_id, line = archived_tenant(db_settings, events=6, upto=3)
    heads = tmp_path / "audit_events_2026.heads.csv"
    heads.write_text(line)

    code, out = verify(db_settings, tenant_id)
    assert code == 1, out
    assert "seq 1 is missing" in out  # without the heads, the cut looks like lost rows

    code, out = verify(db_settings, tenant_id, "--archived-heads", str(heads))
    assert code == 0, out
    assert "OK: 1 tenant chain(s), 3 events" in out

    tenant, seq, digest = line.strip().split(",")
    forged = tmp_path / "forged.heads.csv"
    forged.write_text(f"{tenant},{seq},{'0' * 64}\n")
    code, out = verify(db_settings, tenant_id, "--archived-heads", str(forged))
    assert code == 1, out
    assert f"tenant {tenant_id}: chain broken at seq 4" in out
    assert "prev_hash" in out

    shifted = tmp_path / "shifted.heads.csv"
    shifted.write_text(f"{tenant},{int(seq) - 1},{digest}\n")
    code, out = verify(db_settings, tenant_id, "--archived-heads", str(shifted))
    assert code == 1, out
    assert "seq 3 is missing" in out


def test_a_tenant_whose_every_link_is_archived_checks_its_chain_head_against_the_archived_one(
    db_settings: Settings, tmp_path: Path
) -> None:
    tenant_id, line = archived_tenant(db_settings, events=4, upto=4)
    heads = tmp_path / "all.heads.csv"
    heads.write_text(line)
    code, out = verify(db_settings, tenant_id, "--archived-heads", str(heads))
    assert code == 0, out
    assert "OK: 1 tenant chain(s), 0 events" in out
    code, out = verify(db_settings, tenant_id)
    assert code == 1, out
    assert "the chain head records seq 4 but the archive has no rows" in out


def test_an_unreadable_heads_file_is_refused_with_the_line_and_the_fix(db_settings: Settings, tmp_path: Path) -> None:
    bad = tmp_path / "bad.heads.csv"
    bad.write_text("bakery-1,12,abc\n")
    code, out = verify(db_settings, "bakery-1", "--archived-heads", str(bad))
    assert code == 2, out
    assert "line 1" in out
    assert "64 lowercase hex digits" in out
    code, out = verify(db_settings, "bakery-1", "--archived-heads", str(tmp_path / "missing.csv"))
    assert code == 2, out
    assert "cannot read the archived heads" in out


def test_the_heads_file_keeps_each_tenants_highest_archived_link() -> None:
    a, b = "a" * 64, "b" * 64
    heads = read_archived_heads([f"t1,3,{a}", "", f"t1,7,{b}", f" t2 , 1 , {a} "], "heads.csv")
    assert heads == {"t1": ArchivedHead(7, b), "t2": ArchivedHead(1, a)}
    for bad, why in (("t1,0," + a, "positive whole number"), ("t1,3", "got 2 field(s)"), ("t1,x," + a, "'x'")):
        with pytest.raises(ArchivedHeadsError, match=re.escape(why)):
            read_archived_heads([bad], "heads.csv")
