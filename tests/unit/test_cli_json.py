"""`--json` on the offline commands that print data: one JSON object that parses."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bakeplan.cli import app
from contracts.planning import PlanningSnapshot

pytestmark = pytest.mark.unit
runner = CliRunner()


def test_snapshot_json_says_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    result = runner.invoke(app, ["snapshot", "--profile", "small", "--seed", "3", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)
    snapshot = PlanningSnapshot.model_validate_json(out.read_text())

    assert written["out"] == str(out)
    assert written["bytes"] == out.stat().st_size
    assert written["tenant_id"] == snapshot.tenant_id
    assert written["business_date"] == snapshot.business_date.isoformat()
    assert written["products"] == len(snapshot.products) == 8
