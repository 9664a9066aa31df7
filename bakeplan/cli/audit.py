"""Commands over the audit archive: `audit verify`, `replay` and `explain`.

All of them only read: each opens one READ ONLY transaction (Postgres rejects any write in it) and
none publishes to Kafka. Output is a table or (with `--json`) one JSON object on stdout; progress
goes to stderr. Exit codes: 0 fine, 1 a broken chain or a replay that differs (or nothing found),
2 bad input.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import load_settings
from bakeplan.cli.explain_views import print_batch, print_purchase
from bakeplan.cli.run_views import DEFAULT_CURRENCY, tenant_names
from bakeplan.cli.terminal import JsonFlag, console, err, fail, parse_day, parse_saga_id, print_json
from infra.db import create_engine
from orchestrator import audit, replay_store
from orchestrator.audit_verifier import ArchivedHeadsError, read_archived_heads
from orchestrator.replay import ReplayReport, replay
from orchestrator.replay_explain import UnknownLineError, explain

T = TypeVar("T")


def _read(work: Callable[[AsyncConnection], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(load_settings(), pool_size=1)
        try:
            async with replay_store.read_only(engine) as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def audit_verify(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's chain.")] = None,
    allow_unkeyed: Annotated[
        bool,
        typer.Option(
            "--allow-unkeyed",
            help="Accept plain-sha256 links at the start of a chain (archived before migration 0014, without the "
            "audit key); they are counted, not proven.",
        ),
    ] = False,
    archived_heads: Annotated[
        Path | None,
        typer.Option(
            "--archived-heads",
            help="The heads file of the partitions archived out of the database (CSV tenant_id,seq,hash; "
            "docs/audit.md): each tenant's chain goes on from its last archived link.",
        ),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Recompute each tenant's keyed hash chain (BAKEPLAN_AUDIT_KEY): OK with counts, or the first broken
    link of each (exit 1)."""
    keys = audit.audit_keys(load_settings())
    archived = None
    if archived_heads is not None:
        try:
            archived = read_archived_heads(archived_heads.read_text().splitlines(), str(archived_heads))
        except (OSError, UnicodeDecodeError, ArchivedHeadsError) as exc:
            fail(f"cannot read the archived heads: {exc}")
    outcome = _read(
        lambda conn: audit.verify(conn, keys, tenant_id=tenant, allow_unkeyed=allow_unkeyed, archived=archived)
    )
    if as_json:
        print_json(
            {
                "ok": not outcome.broken,
                "tenants": outcome.tenants,
                "events": outcome.events,
                "unkeyed": outcome.unkeyed,
                "key_id": keys.key_id,
                "dev_key": keys.is_dev_key,
                "broken": [
                    {"tenant_id": b.tenant_id, "seq": b.seq, "event_id": b.event_id, "problem": b.problem}
                    for b in outcome.broken
                ],
            }
        )
    elif outcome.broken:
        for broken in outcome.broken:
            console.print(Text(broken.describe(), style="red"), soft_wrap=True)
        console.print(f"BROKEN: {len(outcome.broken)} of {outcome.tenants} tenant chain(s), {outcome.events} events")
    else:
        unkeyed = f" ({outcome.unkeyed} unkeyed link(s) from before the audit key, hash-chained only)"
        console.print(
            f"OK: {outcome.tenants} tenant chain(s), {outcome.events} events, every link holds"
            + (unkeyed if outcome.unkeyed else "")
        )
    if keys.is_dev_key and not as_json:
        err.print("warning: BAKEPLAN_AUDIT_KEY is not set; verified with the development key, which proves nothing")
    if outcome.broken:
        raise typer.Exit(1)


# --- replay ------------------------------------------------------------------------------------------


async def _replay_one(conn: AsyncConnection, saga_id: UUID) -> ReplayReport | None:
    recorded = await replay_store.load_saga(conn, saga_id)
    if recorded is None:
        return None
    return replay(recorded, expected_commands=replay_store.expected_commands(recorded))


def _print_report(report: ReplayReport) -> None:
    head = f"saga {report.saga_id} (tenant {report.tenant_id}, {report.business_date}): {report.events} events"
    counts = ", ".join(f"{section} {n}" for section, n in report.compared.items())
    if report.identical:
        console.print(f"{head}: [green]identical[/green] ({counts or 'nothing to compare'})")
    else:
        console.print(f"{head}: [red]{len(report.differences)} difference(s)[/red] (compared {counts})")
        for difference in report.differences:
            console.print(Text(f"  {difference.describe()}"), soft_wrap=True)
    for note in report.notes:
        console.print(Text(f"  note: {note}"), soft_wrap=True)


def replay_command(
    saga_id: Annotated[str | None, typer.Argument(help="One saga; or use --tenant with --from and --to.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Every saga of this tenant with a business date in range.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="First business date YYYY-MM-DD.")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Last business date YYYY-MM-DD.")] = None,
    verify: Annotated[bool, typer.Option("--verify", help="Exit 1 when a replay differs from the record.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Re-run the pure planners on recorded snapshots and compare with the recorded results.

    Reads the audit archive in a READ ONLY transaction and publishes nothing: no side effects."""
    if (saga_id is None) == (tenant is None):
        fail("give SAGA_ID, or --tenant T --from D --to D, not both and not neither")
    if saga_id is not None:
        sid = parse_saga_id(saga_id)
        report = _read(lambda conn: _replay_one(conn, sid))
        if report is None:
            fail(f"no recorded events for saga {sid}: list sagas with `bakeplan runs` and pass one saga id", 1)
        if as_json:
            print_json(report.as_json())
        else:
            _print_report(report)
        if verify and not report.identical:
            raise typer.Exit(1)
        return
    assert tenant is not None
    if from_ is None or to is None:
        fail("--tenant needs --from YYYY-MM-DD and --to YYYY-MM-DD (the business dates to replay)")
    first, last = parse_day(from_, "--from"), parse_day(to, "--to")
    if last < first:
        fail(f"--to {last} is before --from {first}")
    summary = _read(lambda conn: _replay_range(conn, tenant, first, last, quiet=as_json))
    if as_json:
        print_json(summary)
    else:
        console.print(
            f"replayed {summary['sagas']} sagas, {summary['events']} events, {summary['mismatches']} mismatches "
            f"in {summary['seconds']:.2f} s ({summary['events_per_second']:.1f} events/s)"
        )
    if verify and summary["mismatches"]:
        raise typer.Exit(1)


async def _replay_range(conn: AsyncConnection, tenant: str, first: date, last: date, *, quiet: bool) -> dict[str, Any]:
    started = time.perf_counter()
    saga_ids = await replay_store.sagas_in_range(conn, tenant, first, last)
    events = 0
    mismatched: list[dict[str, Any]] = []
    columns = (TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("replay", total=len(saga_ids))
        for saga_id in saga_ids:
            report = await _replay_one(conn, saga_id)
            assert report is not None, "sagas_in_range returns archived sagas only"
            events += report.events
            if not report.identical:
                mismatched.append(report.as_json())
                if not quiet:
                    _print_report(report)
            progress.advance(task)
    seconds = time.perf_counter() - started
    return {
        "tenant_id": tenant,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "sagas": len(saga_ids),
        "events": events,
        "mismatches": len(mismatched),
        "seconds": round(seconds, 3),
        "events_per_second": round(events / seconds, 1) if seconds > 0 else 0.0,
        "mismatched": mismatched,
    }


# --- explain -----------------------------------------------------------------------------------------


async def explain_line(conn: AsyncConnection, saga_id: UUID, line: str) -> dict[str, Any] | None:
    """Why a purchase line or batch (`line`: its id or first characters) exists: `replay_explain.explain`'s
    chain plus `tenant_name` and `currency`; None when the archive has nothing of the saga. Raises
    `UnknownLineError`. `bakeplan explain` and the console's explain page both read it here."""
    recorded = await replay_store.load_saga(conn, saga_id)
    if recorded is None:
        return None
    chain = explain(recorded, line)
    tenant = (await tenant_names(conn, [recorded.tenant_id])).get(recorded.tenant_id, {})
    return chain | {"tenant_name": tenant.get("name"), "currency": tenant.get("currency", DEFAULT_CURRENCY)}


def explain_command(
    saga_id: Annotated[str, typer.Argument(help="The saga (from `bakeplan runs`).")],
    line: Annotated[
        str,
        typer.Option("--line", help="A purchase line or batch id, or its first characters (from `bakeplan plan-of`)."),
    ],
    as_json: JsonFlag = False,
) -> None:
    """Why a purchase line or batch exists: the recorded forecast, requirements, stock, safety stock,
    lead time, supplier choice and rounding behind it."""
    sid = parse_saga_id(saga_id)
    try:
        chain = _read(lambda conn: explain_line(conn, sid, line))
    except UnknownLineError as exc:
        fail(str(exc), 1)
    if chain is None:
        fail(f"no recorded events for saga {sid}: list sagas with `bakeplan runs` and pass one saga id", 1)
    if as_json:
        print_json(chain)
    elif chain["kind"] == "purchase_line":
        print_purchase(console, chain)
    else:
        print_batch(console, chain)


def register(app: typer.Typer) -> None:
    archive = typer.Typer(help="The append-only, hash-chained audit archive of every saga event.", no_args_is_help=True)
    archive.command("verify")(audit_verify)
    app.add_typer(archive, name="audit")
    app.command("replay")(replay_command)
    app.command("explain")(explain_command)
