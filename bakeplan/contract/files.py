"""The contract's files in a checkout: docs/asyncapi.json and docs/schemas/*.json, written or compared.

`bakeplan contract write` writes them; `bakeplan contract write --check` (and the unit test
tests/unit/test_contract_document.py) says which committed files differ from what it would write.
"""

import json
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any

from bakeplan.contract.document import asyncapi_document, schema_files
from bakeplan.contract.parties import operations

DOCUMENT = Path("docs/asyncapi.json")
SCHEMAS = Path("docs/schemas")
REGENERATE = "uv run bakeplan contract write"


def _text(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def rendered() -> dict[Path, str]:
    """Every contract file, by its path relative to the checkout's root, with the text it must hold."""
    files = {DOCUMENT: _text(asyncapi_document(operations(), version=package_version("bakeplan")))}
    files |= {SCHEMAS / name: _text(schema) for name, schema in schema_files().items()}
    return files


def write(root: Path) -> list[Path]:
    """Write every contract file under `root` and remove schema files of versions that no longer exist;
    returns the paths changed (relative to `root`)."""
    wanted = rendered()
    changed = stale(root, wanted)
    for path in changed:
        target = root / path
        if path in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(wanted[path], encoding="utf-8")
        else:
            target.unlink()
    return changed


def stale(root: Path, wanted: dict[Path, str] | None = None) -> list[Path]:
    """The contract files under `root` that differ from what `write` writes: changed, missing, or a
    schema file no version has any more. Empty when the committed contract is current."""
    wanted = rendered() if wanted is None else wanted
    present = {path.relative_to(root) for path in (root / SCHEMAS).glob("*.json")}
    differ = [
        path
        for path, text in wanted.items()
        if not (root / path).is_file() or (root / path).read_text(encoding="utf-8") != text
    ]
    return sorted(differ + [path for path in present if path not in wanted])
