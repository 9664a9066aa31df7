"""The wired channels' pure parts: `bakeplan channels set`'s file reading (every problem names its line)
and a send's worst case, which must stay below the consumer's poll interval."""

import pytest

from bakeplan.cli.channels import read_channels
from workers.procurement.channels import ChannelSettings
from workers.procurement.send_handler import worst_case_seconds

pytestmark = pytest.mark.unit

EMAIL = '{"tenant_id": "t", "supplier_id": "mill", "target": {"kind": "email", "to": ["orders@mill.example"]}}'
DROP = '{"tenant_id": "t", "supplier_id": "eggs", "target": {"kind": "file_drop", "directory": "eggs/inbox"}}'


def test_json_lines_and_an_array_read_the_same_channels() -> None:
    lines, problems = read_channels(f"{EMAIL}\n\n{DROP}\n", name="c.jsonl")
    array, array_problems = read_channels(f"[{EMAIL}, {DROP}]", name="c.json")
    assert problems == array_problems == []
    assert lines == array
    assert [(c.supplier_id, c.describe()) for c in lines] == [
        ("mill", "email orders@mill.example"),
        ("eggs", "file_drop eggs/inbox"),
    ]


def test_each_problem_names_its_line_and_field() -> None:
    escaping = DROP.replace("eggs/inbox", "../../etc")
    no_key = '{"tenant_id": "t", "supplier_id": "dairy", "target": {"kind": "webhook", "url": "https://d.example"}}'
    _, problems = read_channels(f"{EMAIL}\n{escaping}\n{no_key}\n{EMAIL}", name="c.jsonl")
    assert problems[0].startswith("c.jsonl line 2: target.file_drop.directory: Value error, file-drop directory")
    assert problems[1] == "c.jsonl line 3: target.webhook.signing_key_name: Field required"
    assert problems[2] == "c.jsonl: supplier mill of tenant t has two channels; keep one"
    assert read_channels("{not json", name="c.jsonl")[1][0].startswith("c.jsonl: not JSON or JSON lines")


def test_a_sends_worst_case_with_the_defaults_is_three_minutes() -> None:
    s = ChannelSettings()
    worst = worst_case_seconds(
        s.send_attempts, s.send_timeout_seconds, s.send_backoff_max_seconds, s.send_backoff_base_seconds
    )
    assert worst == 5 * 30 + (2 + 4 + 8 + 16)
    assert worst_case_seconds(3, 1.0, 3.0, 2.0) == 3 * 1.0 + 2 + 3
