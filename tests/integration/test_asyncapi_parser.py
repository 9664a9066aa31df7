"""The contract document through the AsyncAPI project's own parser (tools/asyncapi/validate.mjs, run by
node): the committed one is valid, and a corrupted copy or a golden message its schema refuses fails."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from bakeplan.contract.files import DOCUMENT, SCHEMAS
from contracts.topics import Topic

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ROOT / "tools" / "asyncapi"
GOLDEN = ROOT / "tests" / "golden"


@pytest.fixture(scope="module")
def validate_script() -> Path:
    """validate.mjs with its packages installed (`npm ci` when the lock file is newer than the install)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("node and npm are needed for the AsyncAPI parser: apt-get install nodejs npm (.ci/run does)")
    installed = TOOLS / "node_modules" / ".package-lock.json"
    lock = TOOLS / "package-lock.json"
    if not installed.exists() or installed.stat().st_mtime < lock.stat().st_mtime:
        subprocess.run(["npm", "ci", "--prefix", str(TOOLS), "--silent"], check=True, timeout=600)
    return TOOLS / "validate.mjs"


def _validate(script: Path, document: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(script), str(document), *extra], capture_output=True, text=True, timeout=300, check=False
    )


def _document() -> dict[str, Any]:
    loaded = json.loads((ROOT / DOCUMENT).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict)
    return loaded


def test_the_committed_document_is_valid_and_every_golden_message_matches_its_schema(validate_script: Path) -> None:
    result = _validate(validate_script, ROOT / DOCUMENT, "--schemas", str(ROOT / SCHEMAS), "--golden", str(GOLDEN))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"valid AsyncAPI 3.0.0: {len(Topic)} channels" in result.stdout  # one channel per topic
    assert f"{len(list(GOLDEN.glob('*.v*.json')))} of" in result.stdout


def test_a_corrupted_copy_of_the_document_is_invalid(validate_script: Path, tmp_path: Path) -> None:
    doc = _document()
    # the feed command claims to send a trigger on the feeds channel, and a field gets a type JSON Schema lacks
    doc["operations"]["cli.send.feeds"]["messages"][0] = {"$ref": "#/channels/triggers/messages/planning.requested.v2"}
    doc["components"]["schemas"]["planning.requested.v2"]["properties"]["source"]["type"] = "text"
    corrupted = tmp_path / "asyncapi.json"
    corrupted.write_text(json.dumps(doc), encoding="utf-8")

    result = _validate(validate_script, corrupted)

    assert result.returncode == 1, result.stdout + result.stderr
    assert "error asyncapi3-operation-messages-from-referred-channel" in result.stdout
    assert "properties.source.type" in result.stdout
    assert "invalid AsyncAPI" in result.stdout


def test_a_document_that_is_not_asyncapi_at_all_is_invalid(validate_script: Path, tmp_path: Path) -> None:
    broken = tmp_path / "asyncapi.json"
    broken.write_text('{"asyncapi": "3.0.0", "info": {"title": "bakeplan"}}', encoding="utf-8")

    result = _validate(validate_script, broken)

    assert result.returncode == 1
    assert '"info" property must have required property "version"' in result.stdout


def test_a_golden_message_its_schema_refuses_fails(validate_script: Path, tmp_path: Path) -> None:
    golden = tmp_path / "golden"
    shutil.copytree(GOLDEN, golden)
    trigger = golden / "planning.requested.v2.json"
    body = json.loads(trigger.read_text(encoding="utf-8"))
    del body["source"]  # required since version 2
    trigger.write_text(json.dumps(body), encoding="utf-8")

    result = _validate(validate_script, ROOT / DOCUMENT, "--schemas", str(ROOT / SCHEMAS), "--golden", str(golden))

    assert result.returncode == 1
    assert "planning.requested.v2.json: (root) must have required property 'source'" in result.stdout
