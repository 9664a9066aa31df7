"""Debian's real Prometheus against a running `bakeplan serve --role all`: the rules and the scrape
config pass `promtool`, every dashboard panel's query and every alert's measure returns data while
sagas run, and a provoked failure (a compensated saga, dead letters) fires its alerts.

Its own database and topics (the shared processes' scans would act on its sagas otherwise) and its
own ports: the children's metrics from BAKEPLAN_METRICS_PORT upward, Prometheus on the port after them.
"""

import asyncio
import functools
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
import yaml
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from typer.testing import CliRunner

from bakeplan.cli import app
from bakeplan.cli.acl import provision, unprovision
from contracts.topics import Topic
from infra.settings import Settings
from orchestrator.scheduler import set_paused, set_schedule
from orchestrator.scheduling import TenantSchedule
from tests.admin_sql import admin_sql
from tests.e2e.support import publish, seed, trigger, trigger_window_env, wait_terminal, without_supply

pytestmark = pytest.mark.e2e

OBSERVABILITY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
CHILDREN = 5  # serve --role all: one process per role
COMPARISON = re.compile(r"^(?P<measure>.+?)\s*(?P<op>>|<|>=|<=|==|!=)\s*(?P<threshold>-?[0-9.]+)$", re.DOTALL)


def _base_port() -> int:
    return int(os.environ.get("BAKEPLAN_TEST_METRICS_PORT", "19440"))


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is not installed: `apt-get install prometheus` (Debian; it brings promtool)"
    return path


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def _readiness(port: int) -> Any:
    """`/readyz` of the child on `port`; None while it answers 503 (unready)."""
    try:
        return _get(f"http://127.0.0.1:{port}/readyz")
    except urllib.error.HTTPError as exc:
        if exc.code == 503:
            return None
        raise


def _page(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as response:
        body: bytes = response.read()
        return body


def _query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    body = _get(f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    assert body["status"] == "success", (expr, body)
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def panel_queries() -> dict[str, str]:
    dashboard = json.loads((OBSERVABILITY / "grafana" / "bakeplan.json").read_text())
    return {f"{p['title']} [{t['refId']}]": t["expr"] for p in dashboard["panels"] for t in p["targets"]}


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_every_alert_is_a_measure_against_a_threshold() -> None:
    for rule in alert_rules():
        assert COMPARISON.match(rule["expr"].strip()), (
            f"{rule['alert']}: {rule['expr']!r} is not `measure op threshold`"
        )


def _promtool(*args: str) -> None:
    done = subprocess.run([_tool("promtool"), "check", *args], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def _test_rules(path: Path) -> Path:
    """The rules with every `for:` at 0 s: the test cannot wait the production minutes."""
    rules = yaml.safe_load((OBSERVABILITY / "alerts.yml").read_text())
    for group in rules["groups"]:
        group["interval"] = "1s"
        for rule in group["rules"]:
            if "for" in rule:
                rule["for"] = "0s"
    path.write_text(yaml.safe_dump(rules))
    return path


def _test_config(path: Path, rules: Path) -> Path:
    targets = [f"127.0.0.1:{_base_port() + i}" for i in range(CHILDREN)]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "bakeplan", "static_configs": [{"targets": targets}]}],
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _wait_for(what: str, probe: Callable[[], Any], timeout_s: float) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.5)


def _serve_all(own: Settings, env: dict[str, str], log: Path) -> "subprocess.Popen[bytes]":
    """`bakeplan serve --role all` as a user starts it, its children's metrics from the base port up."""
    return subprocess.Popen(
        [sys.executable, "-m", "bakeplan", "serve", "--role", "all"],
        env={
            **os.environ,
            **env,
            **trigger_window_env(),
            "BAKEPLAN_KAFKA_BOOTSTRAP": own.kafka_bootstrap,
            "BAKEPLAN_TOPIC_PREFIX": own.topic_prefix,
            "BAKEPLAN_RELAY_POLL_SECONDS": "0.2",
            "BAKEPLAN_METRICS_PORT": str(_base_port()),
            "BAKEPLAN_METRICS_SAMPLE_SECONDS": "1",
            "BAKEPLAN_SCHEDULE_SCAN_SECONDS": "1",
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


def _prometheus(config: Path, tmp_path: Path, port: int) -> "subprocess.Popen[bytes]":
    return subprocess.Popen(
        [
            _tool("prometheus"),
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=(tmp_path / "prometheus.log").open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _stack_with_failures(own: Settings, engine: AsyncEngine, prefix: str) -> list[dict[str, Any]]:
    """Two tenants planned, one that compensates (no supplier for its flour), a paused schedule for the
    scheduler to decide, an unknown tenant's trigger (a handler error, parked) and two unparsable
    records (dead letters)."""
    good, broken = f"{prefix}-ok", f"{prefix}-nosupplier"
    await seed(engine, good)
    await without_supply(engine, await seed(engine, broken))
    async with engine.begin() as conn:
        await set_schedule(conn, TenantSchedule(good, "UTC", run_at=clock_time(0, 0), cutoff=clock_time(0, 1)))
        await set_paused(conn, good, paused=True)
    sagas = [await trigger(own, good), await trigger(own, broken)]
    await trigger(own, f"{prefix}-unknown")
    for _ in range(2):
        await publish(own, Topic.TRIGGERS, b"{not json", key=good.encode())
    return [await wait_terminal(engine, saga, timeout_s=60) for saga in sagas]


async def test_prometheus_reads_every_panel_and_fires_the_provoked_alerts(settings: Settings, tmp_path: Path) -> None:
    _promtool("rules", str(OBSERVABILITY / "alerts.yml"))
    _promtool("config", str(OBSERVABILITY / "prometheus.yml"))
    rules = _test_rules(tmp_path / "alerts.yml")
    config = _test_config(tmp_path / "prometheus.yml", rules)
    _promtool("config", str(config))

    name = f"prom_e2e_{uuid4().hex[:10]}"
    await admin_sql(settings.database_url, f'CREATE DATABASE "{name}"')
    own = settings.model_copy(
        update={
            "topic_prefix": f"{settings.topic_prefix}p{uuid4().hex[:6]}.",
            "database_url": make_url(settings.database_url).set(database=name).render_as_string(hide_password=False),
        }
    )
    env = {"DATABASE_URL": own.database_url, "BAKEPLAN_DATABASE_URL": own.database_url}
    upgraded = await asyncio.to_thread(CliRunner().invoke, app, ["db", "upgrade"], env=env)
    assert upgraded.exit_code == 0, upgraded.output
    secure = own.kafka_security_protocol != "PLAINTEXT"
    if secure:
        await asyncio.to_thread(provision, own)
    engine = create_async_engine(own.database_url)
    serve = _serve_all(own, env, tmp_path / "serve.log")
    prometheus_port = _base_port() + CHILDREN
    prom = _prometheus(config, tmp_path, prometheus_port)
    url = f"http://127.0.0.1:{prometheus_port}"
    try:
        ready = re.compile(r"bakeplan \w+ ready")

        def log_text() -> str:
            return (tmp_path / "serve.log").read_text(errors="replace")

        def started() -> bool:
            return len(ready.findall(log_text())) >= CHILDREN or serve.poll() is not None

        _wait_for("every child ready", started, 150)
        assert serve.poll() is None, log_text()[-3000:]
        # the same port serves each child's probes (docs/observability.md, deploy/k8s)
        # readiness is a state, not an event: a child just started on a loaded machine may answer 503
        # for a moment (its first `SELECT 1` past the 2 s bound), so each is asked until it says ready
        for port in range(_base_port(), _base_port() + CHILDREN):
            assert _get(f"http://127.0.0.1:{port}/healthz") == {"status": "live"}
            readiness = _wait_for(f"child on port {port} ready", functools.partial(_readiness, port), 30)
            assert readiness == {"status": "ready", "checks": ["database", "kafka_consumers"]}
        finished = await _stack_with_failures(own, engine, f"p{uuid4().hex[:6]}")
        assert sorted(f["status"] for f in finished) == ["COMPENSATED", "COMPLETED"]

        ups = _wait_for("every child scraped", lambda: len(_query(url, "up == 1")) == CHILDREN, 30)
        assert ups

        # every panel's query and every alert's measure returns data from the live processes
        queries = panel_queries() | {
            f"alert {r['alert']}": COMPARISON.match(r["expr"].strip()).group("measure")  # type: ignore[union-attr]
            for r in alert_rules()
        }

        def empty() -> list[str]:
            return [f"{title}: {expr}" for title, expr in queries.items() if not _query(url, expr)]

        missing: list[str] = []

        def all_have_data() -> bool:
            missing[:] = empty()
            return not missing

        try:
            _wait_for("data for every query", all_have_data, 30)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; without data:\n" + "\n".join(missing)) from None

        # the provoked failures fire their alerts; the healthy stack's others stay quiet
        def firing() -> set[str]:
            alerts = _get(f"{url}/api/v1/alerts")["data"]["alerts"]
            return {a["labels"]["alertname"] for a in alerts if a["state"] == "firing"}

        _wait_for(
            "the provoked alerts to fire",
            lambda: {"BakeplanSagaFailureRate", "BakeplanDeadLettersGrowing"} <= firing(),
            20,
        )
        assert not firing() & {"BakeplanProcessDown", "BakeplanOutboxStale", "BakeplanSchedulerStalled"}
        classes = {
            r["metric"]["reason_class"]: float(r["value"][1])
            for r in _query(url, "sum by (reason_class) (bakeplan_dead_lettered_total)")
        }
        assert classes["undecodable"] == 2
        assert classes["permanent"] == 1  # the unknown tenant's trigger
        # what docs/observability.md shows: the alerts, every query's result and each child's metrics
        (tmp_path / "alerts.json").write_text(json.dumps(_get(f"{url}/api/v1/alerts"), indent=2))
        (tmp_path / "queries.json").write_text(json.dumps({t: _query(url, e) for t, e in queries.items()}, indent=2))
        for port in range(_base_port(), _base_port() + CHILDREN):
            (tmp_path / f"metrics-{port}.txt").write_bytes(_page(f"http://127.0.0.1:{port}/metrics"))
    finally:
        prom.send_signal(signal.SIGTERM)
        serve.send_signal(signal.SIGTERM)
        prom.wait(timeout=30)
        serve.wait(timeout=60)
        await engine.dispose()
        if secure:
            await asyncio.to_thread(unprovision, own)
        await admin_sql(settings.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
