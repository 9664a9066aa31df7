"""`bakeplan feed`'s file reading: defaults filled in, content-derived ids, every bad line named."""

import json
from datetime import UTC, datetime

import pytest

from bakeplan.cli.feeds import read_feed
from contracts.messages import SalesDayClosed, StockCounted

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 5, 19, 0, tzinfo=UTC)
DAY = {
    "event_type": "sales.day_closed",
    "store_id": "harbour",
    "business_date": "2026-12-05",
    "lines": [{"product_id": "P-RYE", "units": 41}],
    "closed_at": "2026-12-05T18:30:00+01:00",
}
COUNT = {"event_type": "inventory.stock_counted", "counted_at": "2026-12-05T18:00:00Z", "lots": []}


def test_json_lines_get_the_tenant_the_time_and_an_id_derived_from_their_content() -> None:
    text = "\n".join(json.dumps(e) for e in (DAY, COUNT)) + "\n"
    first = read_feed(text, name="feed.jsonl", tenant="kiel", now=NOW)
    assert first.problems == []
    day, count = first.events
    assert isinstance(day, SalesDayClosed)
    assert isinstance(count, StockCounted)
    assert (day.tenant_id, day.occurred_at, day.lines[0].units) == ("kiel", NOW, 41)
    again = read_feed(text, name="feed.jsonl", tenant="kiel", now=NOW.replace(hour=23))
    assert [e.event_id for e in again.events] == [day.event_id, count.event_id]  # the same file, the same ids
    other = read_feed(json.dumps({**DAY, "store_id": "market"}), name="f.json", tenant="kiel", now=NOW)
    assert other.events[0].event_id != day.event_id


def test_an_array_and_explicit_envelope_fields_are_kept() -> None:
    given = {**DAY, "tenant_id": "north", "event_id": "6f1c44a2-1b1e-4bb4-9a57-0d7a3c8f1f10"}
    parsed = read_feed(json.dumps([given]), name="f.json", tenant="kiel", now=NOW)
    assert parsed.problems == []
    assert (parsed.events[0].tenant_id, str(parsed.events[0].event_id)) == ("north", given["event_id"])


def test_every_bad_line_is_named_and_nothing_is_kept_from_a_file_with_problems() -> None:
    lines = [
        json.dumps(DAY),
        json.dumps({**DAY, "lines": [{"product_id": "P-RYE", "units": -3}]}),
        json.dumps({"event_type": "planning.requested"}),
        "[1, 2]",
        json.dumps({k: v for k, v in DAY.items() if k != "store_id"}),
    ]
    parsed = read_feed("\n".join(lines), name="feed.jsonl", tenant="kiel", now=NOW)
    assert [p.split(": ", 1)[0] for p in parsed.problems] == [
        "feed.jsonl:2",
        "feed.jsonl:3",
        "feed.jsonl:4",
        "feed.jsonl:5",
    ]
    assert "units" in parsed.problems[0]
    assert "is not a feed; use one of sales.day_closed" in parsed.problems[1]
    assert "store_id" in parsed.problems[3]
    assert read_feed("{oops", name="f.jsonl", tenant="kiel", now=NOW).problems == [
        "f.jsonl:1: not valid JSON (Expecting property name enclosed in double quotes); write one event object per line"
    ]
    assert read_feed(json.dumps(DAY), name="f.json", tenant=None, now=NOW).problems == [
        "f.json:1: no tenant_id; give it in the event or --tenant"
    ]
