"""`bakeplan feed FILE`: publish live-feed events (docs/feeds.md) from a JSON or JSON-lines file, as a
till, a stock app or a person correcting a day would.

Every event is checked before any is sent: one bad line sends nothing. An event may leave out
`event_id` (then it is derived from its content, so sending the same file twice sends the same ids and
the orchestrator's inbox applies each once), `occurred_at` (now), `schema_version` and `tenant_id`
(`--tenant`).
"""

import asyncio
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from uuid import NAMESPACE_URL, uuid5

import orjson
import typer

from bakeplan.acl_table import Principal
from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from contracts.envelope import Message
from contracts.errors import InvalidMessageError
from contracts.messages import MasterDataChanged, SalesDayClosed, StockCounted
from contracts.topics import Topic
from infra.messaging.admin import ensure_topics
from infra.messaging.codec import decode, encode
from infra.messaging.kafka_client import new_producer
from infra.settings import Settings

FEED_TYPES = tuple(cls.model_fields["event_type"].default for cls in (SalesDayClosed, StockCounted, MasterDataChanged))
_CONTENT_IDS = uuid5(NAMESPACE_URL, "https://bakeplan.dev/feeds/content")


@dataclass
class FeedFile:
    events: list[Message] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _objects(text: str, name: str) -> list[tuple[int, Any]]:
    """The file's JSON values with their line numbers: one array or object, or one object per line."""
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            values = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise InvalidMessageError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
        return [(1, value) for value in values]
    objects = []
    for line, raw in enumerate(text.splitlines(), start=1):
        if raw.strip():
            try:
                objects.append((line, json.loads(raw)))
            except json.JSONDecodeError as exc:
                raise InvalidMessageError(
                    f"{name}:{line}: not valid JSON ({exc.msg}); write one event object per line"
                ) from exc
    return objects


def read_feed(text: str, *, name: str, tenant: str | None, now: datetime) -> FeedFile:
    """The events of a feed file with their defaults filled in, and every problem as `file:line: reason`."""
    result = FeedFile()
    try:
        objects = _objects(text, name)
    except InvalidMessageError as exc:
        result.problems.append(str(exc))
        return result
    for line, obj in objects:
        place = f"{name}:{line}"
        if not isinstance(obj, dict):
            result.problems.append(f"{place}: expected an event object, got {type(obj).__name__}")
            continue
        if obj.get("event_type") not in FEED_TYPES:
            result.problems.append(
                f"{place}: event_type {obj.get('event_type')!r} is not a feed; use one of {', '.join(FEED_TYPES)}"
            )
            continue
        if "tenant_id" not in obj:
            if tenant is None:
                result.problems.append(f"{place}: no tenant_id; give it in the event or --tenant")
                continue
            obj = {**obj, "tenant_id": tenant}
        if "event_id" not in obj:
            obj = {**obj, "event_id": str(uuid5(_CONTENT_IDS, orjson.dumps(obj, option=orjson.OPT_SORT_KEYS).decode()))}
        obj = {"occurred_at": now.isoformat(), **obj}
        try:
            result.events.append(decode(orjson.dumps(obj)))
        except InvalidMessageError as exc:
            result.problems.append(f"{place}: {exc}")
    return result


async def _publish(settings: Settings, events: list[Message]) -> None:
    await ensure_topics(settings, Principal.OPERATOR, (Topic.FEEDS,))
    producer = new_producer(settings, Principal.OPERATOR, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        topic = settings.topic(Topic.FEEDS)
        sent = [await producer.send(topic, encode(e), key=e.tenant_id.encode()) for e in events]
        for future in sent:
            await future
    finally:
        await producer.stop()


def feed(
    path: Annotated[Path, typer.Argument(help="A JSON array, one JSON object, or JSON lines (one event per line).")],
    tenant: Annotated[str | None, typer.Option("--tenant", help="tenant_id of events that do not name one")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check the events; send nothing.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Publish sales.day_closed, inventory.stock_counted and masterdata.changed events (docs/feeds.md).

    Every event is checked first; one bad event sends nothing (exit 2). The orchestrator applies them in
    order, each once; one it cannot apply is parked with the reason (`bakeplan dlq list`)."""
    if not path.is_file():
        fail(f"{path}: no such file; give a JSON or JSON-lines file of feed events")
    parsed = read_feed(path.read_text(encoding="utf-8"), name=path.name, tenant=tenant, now=datetime.now(UTC))
    if parsed.problems:
        fail("; ".join(parsed.problems))
    if not dry_run and parsed.events:
        asyncio.run(_publish(load_settings(), parsed.events))
    summary = {
        "sent": 0 if dry_run else len(parsed.events),
        "checked": len(parsed.events),
        "topic": str(Topic.FEEDS),
        "events": [
            {"event_id": str(e.event_id), "event_type": e.event_type, "tenant_id": e.tenant_id} for e in parsed.events
        ],
    }
    if as_json:
        print_json(summary)
        return
    verb = "checked (dry run, nothing sent)" if dry_run else f"sent to {Topic.FEEDS}"
    console.print(f"{len(parsed.events)} event(s) {verb}")


def register(app: typer.Typer) -> None:
    app.command("feed")(feed)
