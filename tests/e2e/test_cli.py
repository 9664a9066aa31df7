"""The `bakeplan` CLI as an operator uses it, against the real stack."""

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from sqlalchemy import update

from contracts.topics import Topic
from infra.db import create_engine
from infra.settings import Settings
from orchestrator import masterdata as md
from tests.e2e.processes import Processes
from tests.e2e.support import read_topic

pytestmark = pytest.mark.e2e


def bakeplan(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    return subprocess.run(
        [sys.executable, "-m", "bakeplan", *args], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def as_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_seed_trigger_show_and_plan_of(settings: Settings, processes: Processes, tenant_prefix: str) -> None:
    seeded = as_json(bakeplan(settings, "seed", "--tenants", "2", "--prefix", tenant_prefix, "--seed", "4", "--json"))
    assert seeded["tenants"] == [f"{tenant_prefix}-001", f"{tenant_prefix}-002"]

    run = as_json(
        bakeplan(settings, "trigger", "--tenant", f"{tenant_prefix}-001", "--date", "2026-11-28", "--wait", "--json")
    )
    again = as_json(bakeplan(settings, "trigger", "--tenant", f"{tenant_prefix}-001", "--date", "2026-11-28", "--json"))
    screen = bakeplan(settings, "trigger", "--tenant", f"{tenant_prefix}-001", "--date", "2026-11-28", "--wait")
    shown = as_json(bakeplan(settings, "show", run["saga_id"], "--json"))
    plan = as_json(bakeplan(settings, "plan-of", run["saga_id"], "--json"))
    runs = as_json(bakeplan(settings, "runs", "--tenant", f"{tenant_prefix}-001", "--json"))

    assert run["status"] == "COMPLETED"
    assert (again["saga_id"], again["already_planned"]) == (run["saga_id"], True)
    # in text, --wait prints the saga id, then the plan on one screen with the commands for the rest
    assert screen.returncode == 0, screen.stderr
    assert screen.stdout.splitlines()[0] == run["saga_id"]
    assert re.search(r"the \d+ most important purchase lines", screen.stdout), screen.stdout
    assert screen.stdout.count(run["saga_id"]) >= 3  # the id, the heading, the commands that show the rest
    assert shown["status"] == "COMPLETED"
    assert [t["step"] for t in shown["timeline"] if t["kind"] == "step_done"] == [
        "forecasting",
        "production",
        "procurement",
        "release",
    ]
    assert plan["batches"]
    assert plan["purchase_lines"]
    assert {b["status"] for b in plan["batches"]} <= {"draft", "active"}
    assert all(b["product_name"] and b["unit"] == "pcs" for b in plan["batches"]), "seeded products have names"
    assert all(
        p["ingredient_name"] and p["supplier_name"] and p["unit"] in {"kg", "l", "pcs"} and p["currency"] == "EUR"
        for p in plan["purchase_lines"]
    )
    assert runs["runs"][0]["tenant_name"] == shown["tenant_name"] == plan["tenant_name"]
    assert plan["tenant_name"], "a seeded tenant has a catalogue name"
    assert [r["saga_id"] for r in runs["runs"]] == [run["saga_id"]]


def test_trigger_rejects_unknown_tenant_and_bad_date(settings: Settings) -> None:
    unknown = bakeplan(settings, "trigger", "--tenant", "no-such-bakery")
    bad_date = bakeplan(settings, "trigger", "--tenant", "anything", "--date", "2026-13-45")
    bad_id = bakeplan(settings, "show", "not-a-uuid")

    assert unknown.returncode == 2
    assert "unknown tenant 'no-such-bakery'" in unknown.stderr
    assert bad_date.returncode == 2
    assert "YYYY-MM-DD" in bad_date.stderr
    assert bad_id.returncode == 2
    assert "not a saga id" in bad_id.stderr


def test_trigger_without_a_date_plans_the_tenants_local_today(settings: Settings, tenant_prefix: str) -> None:
    """A bakery whose local date is not UTC's: Kiritimati (UTC+14) from 10:00 UTC, Pago Pago (UTC-11)
    before 11:00 UTC; one of them differs from UTC at any time of day."""
    tenant = f"{tenant_prefix}-001"
    as_json(bakeplan(settings, "seed", "--prefix", tenant_prefix, "--json"))
    before = datetime.now(UTC)
    zone = "Pacific/Kiritimati" if before.hour >= 10 else "Pacific/Pago_Pago"
    asyncio.run(_set_time_zone(settings, tenant, zone))

    run = as_json(bakeplan(settings, "trigger", "--tenant", tenant, "--json"))
    after = datetime.now(UTC)

    local = {before.astimezone(ZoneInfo(zone)).date(), after.astimezone(ZoneInfo(zone)).date()}
    assert date.fromisoformat(run["business_date"]) in local
    assert date.fromisoformat(run["business_date"]) not in {before.date(), after.date()}


async def _set_time_zone(settings: Settings, tenant: str, zone: str) -> None:
    engine = create_engine(settings, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(md.tenants).where(md.tenants.c.tenant_id == tenant).values(timezone=zone))
    finally:
        await engine.dispose()


def test_the_offline_plan_of_a_recorded_snapshot_equals_the_sagas_plan(
    settings: Settings, processes: Processes, tenant_prefix: str, tmp_path: Path
) -> None:
    """`bakeplan plan --input` runs the planning the workers run: same snapshot, same plan."""
    bakeplan(settings, "seed", "--tenants", "1", "--prefix", tenant_prefix, "--seed", "9", "--profile", "standard")
    run = as_json(
        bakeplan(settings, "trigger", "--tenant", f"{tenant_prefix}-001", "--date", "2026-11-30", "--wait", "--json")
    )
    assert run["status"] == "COMPLETED"
    recorded = asyncio.run(
        read_topic(
            settings,
            Topic.SNAPSHOTS,
            lambda record: orjson.loads(record.value).get("saga_id") == run["saga_id"],
        )
    )
    snapshot_file = tmp_path / "snapshot.json"
    snapshot_file.write_bytes(recorded[0].value)

    offline = as_json(bakeplan(settings, "plan", "--input", str(snapshot_file), "--json"))
    saga = as_json(bakeplan(settings, "plan-of", run["saga_id"], "--json"))

    def lines(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        keys = ("line_id", "supplier_id", "ingredient_id", "order_date", "delivery_date", "quantity", "late")
        return sorted(tuple(str(row[k]) for k in keys) for row in rows)

    assert offline["saga_id"] == run["saga_id"]
    assert offline["purchase_lines"], "a standard bakery buys something in two weeks"
    assert lines(offline["purchase_lines"]) == lines(saga["purchase_lines"])
    assert sorted((b["batch_id"], b["units"]) for b in offline["batches"]) == sorted(
        (b["batch_id"], b["units"]) for b in saga["batches"]
    )
