"""A real `bakeplan serve --role forecasting` whose database is unreachable (a closed port): it
starts (its Kafka consumers need no database), stays live, and reports itself unready with the
reason, so Kubernetes keeps it out of service without restarting it (deploy/k8s)."""

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from infra.settings import Settings
from tests.e2e.support import trigger_window_env

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_process_without_its_database_is_live_but_unready(settings: Settings, tmp_path: Path) -> None:
    dead_db, metrics = _free_port(), _free_port()  # nothing listens on either until serve binds `metrics`
    url = f"postgresql+asyncpg://bakeplan@127.0.0.1:{dead_db}/bakeplan"
    log = tmp_path / "serve.log"
    env = {
        **os.environ,
        **trigger_window_env(),
        "DATABASE_URL": url,
        "BAKEPLAN_DATABASE_URL": url,
        "BAKEPLAN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "BAKEPLAN_TOPIC_PREFIX": settings.topic_prefix,
        "BAKEPLAN_METRICS_PORT": str(metrics),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "bakeplan", "serve", "--role", "forecasting"],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while b"forecasting ready" not in log.read_bytes():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        status, body = _get(f"http://127.0.0.1:{metrics}/readyz")
        assert status == 503, body
        assert body["status"] == "unready"
        assert list(body["reasons"]) == ["database"], body  # its consumers did start
        assert _get(f"http://127.0.0.1:{metrics}/healthz") == (200, {"status": "live"})
        assert proc.poll() is None  # no crash loop: the process waits for its database
    finally:
        proc.terminate()
        proc.wait(timeout=60)
