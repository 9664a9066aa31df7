"""The supplier's signature check, taken from docs/channels.md and run as written: if the docs' snippet
stops verifying what the sender signs, the tests that use it fail."""

import re
from collections.abc import Callable
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs" / "channels.md"
Verifier = Callable[[str, bytes, bytes], bool]


def docs_verifier() -> Verifier:
    """`verify_bakeplan_signature(header, body, key) -> bool`, as docs/channels.md shows it."""
    text = DOCS.read_text(encoding="utf-8")
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "def verify_bakeplan_signature" in b]
    assert len(blocks) == 1, "docs/channels.md shows one verify_bakeplan_signature snippet"
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], str(DOCS), "exec"), namespace)  # the docs' own code, run as a supplier would
    verifier = namespace["verify_bakeplan_signature"]
    assert callable(verifier)
    return verifier
