"""`bakeplan dlq`: messages parked on the dead-letter topic, listed and replayed after a fix."""

import asyncio
from collections.abc import Coroutine
from datetime import UTC
from typing import Annotated, Any, TypeVar

import typer
from rich.table import Column, Table
from rich.text import Text

from bakeplan.acl_table import Principal
from bakeplan.cli.amounts import tenant_label
from bakeplan.cli.context import load_settings, with_db
from bakeplan.cli.outages import find_outage
from bakeplan.cli.run_views import tenant_names
from bakeplan.cli.terminal import JsonFlag, console, fail, print_json
from infra.messaging import dead_letter_records, dead_letter_replay
from orchestrator.tables import dead_letter_replays

T = TypeVar("T")


def _dlq_run(work: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(work)
    except dead_letter_records.UnknownRecordError as exc:
        fail(str(exc))
    except dead_letter_records.DeadLetterError as exc:
        if find_outage(exc) is not None:
            raise  # the root command says which server and how to fix it, as for every command
        fail(str(exc), 1)


ConsumerFilter = Annotated[str | None, typer.Option(help="Only messages parked by this consumer, e.g. orchestrator.")]
SourceTopicFilter = Annotated[str | None, typer.Option(help="Only messages that came from this topic.")]


def dlq_list(
    consumer: ConsumerFilter = None,
    source_topic: SourceTopicFilter = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (the record key).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="Show the newest N.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of objects (full reasons).")] = False,
) -> None:
    """Messages parked on the dead-letter topic, newest last, and whether each was replayed."""
    listed = _dlq_run(
        dead_letter_replay.list_parked(
            load_settings(),
            principal=Principal.OPERATOR,
            replays=dead_letter_replays,
            consumer=consumer,
            source_topic=source_topic,
            tenant=tenant,
            limit=limit,
        )
    )
    keys = [m.tenant for m, _ in listed if m.tenant]
    names = with_db(lambda conn: tenant_names(conn, keys)) if keys else {}
    if as_json:
        print_json(
            [
                {**dead_letter_records.to_json(m, prior), "tenant_name": names.get(m.tenant, {}).get("name")}
                for m, prior in listed
            ]
        )
        return
    if not listed:
        console.print("no parked messages" + (" match the filters" if consumer or source_topic or tenant else ""))
        return
    # fold, never ellipsis: on a narrow terminal a cell takes more lines but keeps every character
    headers = (
        "id",
        "parked (UTC)",
        "consumer",
        "source",
        "key",
        "event type",
        "att.",
        "exception",
        "reason",
        "replayed",
    )
    table = Table(*(Column(header, overflow="fold") for header in headers))
    for m, prior in listed:
        cells = (
            m.id,
            f"{m.parked_at.astimezone(UTC):%Y-%m-%d %H:%M:%S}",
            m.consumer,
            f"{m.source_topic}[{m.source_partition}]@{m.source_offset}" if m.source_topic else "",
            tenant_label(m.tenant, names.get(m.tenant, {}).get("name")) if m.tenant else "",
            m.event_type or "",
            str(m.attempts or ""),
            m.exception,
            m.reason[:60],
            "yes" if prior else "",
        )
        table.add_row(*(Text(c) for c in cells))  # Text: reasons hold [brackets] that are not markup
    console.print(table)


def dlq_replay(
    ids: Annotated[list[str] | None, typer.Option("--id", help="PARTITION:OFFSET from `dlq list`; repeatable.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every parked message passing the filters.")] = False,
    consumer: ConsumerFilter = None,
    source_topic: SourceTopicFilter = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Say what would be replayed; publish nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Replay records already replayed, too.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-publish parked messages to their source topic (after a fix) and record each replay."""
    if bool(ids) == all_:
        fail("give --id PARTITION:OFFSET (repeatable) or --all, not both and not neither")
    try:
        record_ids = [dead_letter_records.parse_record_id(i) for i in ids] if ids else None
    except dead_letter_records.UnknownRecordError as exc:
        fail(str(exc))
    plan = _dlq_run(
        dead_letter_replay.replay(
            load_settings(),
            principal=Principal.OPERATOR,
            replays=dead_letter_replays,
            ids=record_ids,
            consumer=consumer,
            source_topic=source_topic,
            force=force,
            dry_run=dry_run,
            replayed_by=dead_letter_replay.operator_name(),
        )
    )
    if as_json:
        replayed = [
            {"id": m.id, "source_topic": m.source_topic, "key": m.tenant, "event_id": m.event_id} for m in plan.replay
        ]
        print_json(
            {"dry_run": dry_run, "replayed": replayed, "skipped": [{"id": m.id, "why": why} for m, why in plan.skipped]}
        )
        return
    verb = "would replay" if dry_run else "replayed"
    for m in plan.replay:
        console.print(
            f"{verb} {m.id} → {m.source_topic} (key {m.tenant}, event {m.event_id or 'id unreadable'})",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    for m, why in plan.skipped:
        console.print(f"skipped {m.id}: {why}", markup=False, highlight=False, soft_wrap=True)
    console.print(
        f"{verb} {len(plan.replay)}, skipped {len(plan.skipped)}" + (" (dry run: nothing published)" if dry_run else "")
    )


def register(app: typer.Typer) -> None:
    dead_letters = typer.Typer(help="Dead-lettered messages: list them, replay them after a fix.", no_args_is_help=True)
    dead_letters.command("list")(dlq_list)
    dead_letters.command("replay")(dlq_replay)
    app.add_typer(dead_letters, name="dlq")
