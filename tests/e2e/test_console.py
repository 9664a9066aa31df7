"""`bakeplan console` in a real browser (Debian's chromium driven by Playwright) on the real stack.

One real saga runs through the serve processes; the console runs as its own process (`bakeplan console
serve`), and the browser logs in as an operator and as a viewer. Covered: every page renders that saga's
data; an operator pauses and resumes a schedule (the database changes, the action is audited); a viewer
is refused an operator action (refusal audited, nothing changes) and another tenant's saga page.
`BAKEPLAN_CONSOLE_SCREENSHOTS=DIR` saves a screenshot of each page there (docs/console/ holds them).
"""

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from playwright.async_api import Browser, Page, async_playwright
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.console.tables import actions
from bakeplan.console.users import Role, add_user
from contracts.messages import PlanningRequested
from infra.messaging.codec import encode
from infra.settings import Settings
from orchestrator import scheduler
from orchestrator.scheduling import TenantSchedule
from orchestrator.tables import dead_letter_replays, schedules, snapshots
from tests.e2e.console_support import ConsoleProcess, chromium_path, free_port
from tests.e2e.processes import Processes
from tests.e2e.support import TODAY, eventually, seed, trigger, wait_terminal
from tests.e2e.test_dlq import park_directly, park_headers

pytestmark = pytest.mark.e2e

OPERATOR = ("ops", "operator-secret-1")
VIEWER = ("viv", "viewer-secret-12")
DLQ_REASON = "orchestrator gave up after 5 attempts: console test parked this on purpose"


@dataclass(frozen=True)
class World:
    base: str
    mine: str  # the tenant whose saga ran; the viewer may not see it
    other: str  # the viewer's only tenant
    saga_id: UUID
    snapshot_bytes: int
    parked_id: str


@pytest.fixture(scope="module")
def console_port() -> int:
    return free_port()


@pytest.fixture(scope="module")
def console_process(
    settings: Settings, console_port: int, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleProcess]:
    """`bakeplan console serve` as its own process, as a user starts it; started before the saga runs, so
    its start-up overlaps it (`world` waits for it afterwards)."""
    log_path = tmp_path_factory.mktemp("console") / "console.log"
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "BAKEPLAN_DATABASE_URL": settings.database_url,
        "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
        "BAKEPLAN_CONSOLE_SECRET_KEY": "test-console-secret-" + os.urandom(8).hex(),
        "BAKEPLAN_CONSOLE_REFRESH_SECONDS": "1",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bakeplan", "console", "serve", "--port", str(console_port)],
            env=env,
            stdout=log,
            stderr=log,
        )
    yield ConsoleProcess(proc, f"http://127.0.0.1:{console_port}", log_path)
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
async def world(
    processes: Processes, settings: Settings, engine: AsyncEngine, console_process: ConsoleProcess
) -> World:
    prefix = f"t{uuid4().hex[:8]}"
    mine, other = f"{prefix}-a", f"{prefix}-b"
    await seed(engine, mine)
    await seed(engine, other, seed=4)
    saga_id = await trigger(settings, mine)
    # while the saga runs: schedules, closed every day, so the scheduler records today as skipped (due at
    # 00:00 local) and never fires a plan; the users (the operator through the command line, as a person
    # makes one)
    async with engine.begin() as conn:
        for tenant in (mine, other):
            await scheduler.set_schedule(
                conn,
                TenantSchedule(
                    tenant,
                    "Europe/Berlin",
                    run_at=dt_time(0, 0),
                    cutoff=dt_time(23, 59),
                    closed_weekdays=frozenset(range(7)),
                ),
            )
        await add_user(conn, *VIEWER, role=Role.VIEWER, tenants=frozenset({other}), all_tenants=False)
    added = await asyncio.to_thread(
        CliRunner().invoke,
        app,
        [
            "console",
            "user",
            "add",
            OPERATOR[0],
            "--role",
            "operator",
            "--tenants",
            f"{mine},{other}",
            "--password-stdin",
        ],
        input=OPERATOR[1] + "\n",
        env={"DATABASE_URL": settings.database_url},
    )
    assert added.exit_code == 0, added.output
    done = await wait_terminal(engine, saga_id)
    assert done["status"] == "COMPLETED", done
    async with engine.connect() as conn:
        size = (
            await conn.execute(select(snapshots.c.size_bytes).where(snapshots.c.sha256 == done["snapshot_sha256"]))
        ).scalar_one()

    async def decided() -> bool | None:
        async with engine.connect() as conn:
            return True if await scheduler.recent_decisions(conn, mine, limit=1) else None

    await eventually(decided, timeout_s=60, what=f"the scheduler's first decision for {mine}")
    value = PlanningRequested(
        event_id=uuid4(),
        tenant_id=mine,
        occurred_at=done["created_at"],
        business_date=TODAY,
        source="external",
        requested_by="test",
    )
    parked = await park_directly(
        settings,
        key=mine.encode(),
        value=encode(value),
        headers=park_headers(
            settings, consumer="orchestrator", reason=DLQ_REASON, exception="PlanningError", attempts=5
        ),
    )
    base = await asyncio.to_thread(console_process.wait_ready)
    return World(base, mine, other, saga_id, size, parked)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        yield launched
        await launched.close()


async def logged_in(browser: Browser, world: World, who: tuple[str, str]) -> Page:
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{world.base}/runs")
    assert "/login" in page.url  # no session: the login form
    await page.fill("input[name=username]", who[0])
    await page.fill("input[name=password]", who[1])
    await page.click("form.login button")
    await page.wait_for_url(f"{world.base}/runs")
    return page


async def shot(page: Page, name: str) -> None:
    target = os.environ.get("BAKEPLAN_CONSOLE_SCREENSHOTS")
    if target:
        await page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=name != "saga")


async def console_actions(engine: AsyncEngine, username: str) -> list[dict[str, Any]]:
    async with engine.connect() as conn:
        rows = await conn.execute(select(actions).where(actions.c.username == username).order_by(actions.c.id))
        return [dict(r) for r in rows.mappings()]


async def test_every_page_shows_the_real_saga(
    browser: Browser, world: World, engine: AsyncEngine, settings: Settings
) -> None:
    page = await logged_in(browser, world, OPERATOR)
    sid = str(world.saga_id)
    link = f"a[href='/sagas/{sid}']"
    await page.locator(f"#run-rows {link}").wait_for()
    assert "COMPLETED" in await page.locator("#run-rows tr", has=page.locator(link)).inner_text()
    await page.select_option("select[name=status]", "COMPENSATED")  # a filter that excludes it
    await page.click("form.filters button")
    assert await page.locator(f"#run-rows a[href='/sagas/{sid}']").count() == 0
    await page.goto(f"{world.base}/runs?tenant={world.mine}")
    await shot(page, "runs")

    await page.goto(f"{world.base}/sagas/{sid}")
    bars = page.locator("svg.gantt rect.bar.step")
    assert await bars.count() == 4  # forecasting, production, procurement, release
    assert [await t.text_content() for t in await page.locator("svg.gantt text.label").all()] == [
        "forecasting", "production", "procurement", "release",
    ]  # fmt: skip
    assert f"{world.snapshot_bytes:,} bytes" in await page.locator("main").inner_text()
    lines = page.locator("table.plan").nth(0).locator("tbody tr")
    assert await lines.count() > 0
    first_line = await lines.first.inner_text()
    assert " kg" in first_line or " g" in first_line or " l" in first_line or " pcs" in first_line, first_line
    await shot(page, "saga")

    await lines.first.locator("a", has_text="explain").click()
    await page.wait_for_url("**/explain/**")
    text = await page.locator("main").inner_text()
    assert "Purchase line:" in text
    assert "Rule " in text
    assert "Reasoning" in text
    await shot(page, "explain")

    await page.goto(f"{world.base}/sagas/{sid}/forecast")
    band = await page.locator("svg.chart polygon.band").get_attribute("points")
    history = await page.locator("svg.chart polyline.history").get_attribute("points")
    assert len((band or "").split()) >= 2 * 7, band  # p90 forward, p10 back, over the horizon
    assert len((history or "").split()) >= 7, history
    await shot(page, "forecast")

    await page.goto(f"{world.base}/dead-letters")
    parked = page.locator("table.dlq tr", has_text=world.parked_id)
    assert DLQ_REASON in await parked.first.inner_text()
    await shot(page, "dead-letters")

    await page.goto(f"{world.base}/schedules")
    assert "skipped_closed" in (await page.locator(f"#schedule-{world.mine}").inner_text()).lower()
    await shot(page, "schedules")

    await page.goto(f"{world.base}/health")
    health = await page.locator("table.lag").inner_text()
    # on the SASL_SSL broker too: the operator principal may describe every group (bakeplan/acl_table.py)
    assert "orchestrator" in health
    assert "forecasting" in health
    assert "Sagas in flight" in await page.locator("main").inner_text()
    await shot(page, "health")
    await page.close()


async def test_an_operator_pauses_and_resumes_a_schedule(browser: Browser, world: World, engine: AsyncEngine) -> None:
    page = await logged_in(browser, world, OPERATOR)
    await page.goto(f"{world.base}/schedules")
    row = page.locator(f"#schedule-{world.mine}")
    await row.locator("button", has_text="Pause").click()
    await page.wait_for_url(f"{world.base}/schedules")
    assert f"{world.mine}: paused" in await page.locator(".flash").inner_text()

    async def paused() -> bool:
        async with engine.connect() as conn:
            return bool(
                (await conn.execute(select(schedules.c.paused).where(schedules.c.tenant_id == world.mine))).scalar_one()
            )

    assert await paused()
    assert "paused" in await row.inner_text()
    await page.goto(f"{world.base}/schedules")
    await page.locator(f"#schedule-{world.mine}").locator("button", has_text="Resume").click()
    await page.wait_for_url(f"{world.base}/schedules")
    assert not await paused()
    done = [(a["action"], a["tenant_id"], a["outcome"], a["role"]) for a in await console_actions(engine, OPERATOR[0])]
    assert ("schedule_pause", world.mine, "done", "operator") in done
    assert ("schedule_resume", world.mine, "done", "operator") in done
    await page.close()


async def test_an_operator_replays_a_dead_letter_as_the_cli_does(
    browser: Browser, world: World, engine: AsyncEngine
) -> None:
    page = await logged_in(browser, world, OPERATOR)
    await page.goto(f"{world.base}/dead-letters")
    await page.locator("table.dlq tr", has_text=world.parked_id).locator("button", has_text="Replay").click()
    await page.wait_for_url(f"{world.base}/dead-letters")
    assert f"replay {world.parked_id}: done" in await page.locator(".flash").inner_text()
    partition, offset = (int(n) for n in world.parked_id.split(":"))
    async with engine.connect() as conn:
        replayed_by = (
            await conn.execute(
                select(dead_letter_replays.c.replayed_by).where(
                    dead_letter_replays.c.dlt_partition == partition, dead_letter_replays.c.dlt_offset == offset
                )
            )
        ).scalar_one()
    assert replayed_by == f"console:{OPERATOR[0]}"  # the CLI's replay record, naming the console user
    done = [(a["action"], a["target"], a["outcome"]) for a in await console_actions(engine, OPERATOR[0])]
    assert ("dlq_replay", world.parked_id, "done") in done
    await page.goto(f"{world.base}/actions")
    await shot(page, "actions")
    await page.close()


async def test_a_viewer_is_refused_an_action_and_another_tenants_saga(
    browser: Browser, world: World, engine: AsyncEngine
) -> None:
    page = await logged_in(browser, world, VIEWER)
    await page.goto(f"{world.base}/schedules")
    row = page.locator(f"#schedule-{world.other}")
    assert await row.count() == 1
    assert await row.locator("button").count() == 0
    assert await page.locator(f"#schedule-{world.mine}").count() == 0  # the other tenant is not listed
    # the same POST the operator's button sends, with the viewer's valid CSRF token
    response = await page.evaluate(
        """async (tenant) => {
            const token = document.querySelector("input[name=csrf_token]").value;
            const r = await fetch(`/schedules/${tenant}/pause`, {method: "POST",
                body: new URLSearchParams({csrf_token: token})});
            return {status: r.status, text: await r.text()};
        }""",
        world.other,
    )
    assert response["status"] == 403
    assert "needs the operator role" in response["text"]
    async with engine.connect() as conn:
        paused = (
            await conn.execute(select(schedules.c.paused).where(schedules.c.tenant_id == world.other))
        ).scalar_one()
    assert paused is False
    refused = [(a["action"], a["tenant_id"], a["outcome"]) for a in await console_actions(engine, VIEWER[0])]
    assert ("schedule_pause", world.other, "refused") in refused

    answer = await page.goto(f"{world.base}/sagas/{world.saga_id}")
    assert answer is not None
    assert answer.status == 403
    assert "belongs to a tenant you may not see" in await page.locator("main").inner_text()
    await page.goto(f"{world.base}/runs")
    assert await page.locator(f"#run-rows a[href='/sagas/{world.saga_id}']").count() == 0
    await page.close()


async def test_a_post_without_the_csrf_token_is_refused(world: World, engine: AsyncEngine) -> None:
    async with httpx.AsyncClient(base_url=world.base) as client:
        form = (await client.get("/login")).text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        logged = await client.post(
            "/login", data={"username": OPERATOR[0], "password": OPERATOR[1], "csrf_token": token}
        )
        assert logged.status_code == 303
        forged = await client.post(f"/schedules/{world.mine}/pause", data={})
    assert forged.status_code == 403
    async with engine.connect() as conn:
        paused = (
            await conn.execute(select(schedules.c.paused).where(schedules.c.tenant_id == world.mine))
        ).scalar_one()
    assert paused is False
