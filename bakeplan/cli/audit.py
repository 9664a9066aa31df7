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
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text
from sqlalchemy.ext.asyncio import AsyncConnection

from bakeplan.cli.context import load_settings
from bakeplan.cli.terminal import JsonFlag, console, err, fail, parse_day, parse_saga_id, print_json
from infra.db import create_engine
from orchestrator import audit, replay_store
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
    as_json: JsonFlag = False,
) -> None:
    """Recompute each tenant's hash chain: OK with counts, or the first broken link of each (exit 1)."""
    outcome = _read(lambda conn: audit.verify(conn, tenant_id=tenant))
    if as_json:
        print_json(
            {
                "ok": not outcome.broken,
                "tenants": outcome.tenants,
                "events": outcome.events,
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
        console.print(f"OK: {outcome.tenants} tenant chain(s), {outcome.events} events, every link holds")
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


def explain_command(
    saga_id: Annotated[str, typer.Argument(help="The saga (from `bakeplan runs`).")],
    line: Annotated[str, typer.Option("--line", help="A purchase line id or batch id (from `bakeplan plan-of`).")],
    as_json: JsonFlag = False,
) -> None:
    """Why a purchase line or batch exists: the recorded forecast, requirements, stock, safety stock,
    lead time, supplier choice and rounding behind it."""
    sid = parse_saga_id(saga_id)
    recorded = _read(lambda conn: replay_store.load_saga(conn, sid))
    if recorded is None:
        fail(f"no recorded events for saga {sid}: list sagas with `bakeplan runs` and pass one saga id", 1)
    try:
        chain = explain(recorded, line)
    except UnknownLineError as exc:
        fail(str(exc), 1)
    if as_json:
        print_json(chain)
    elif chain["kind"] == "purchase_line":
        _print_purchase(chain)
    else:
        _print_batch(chain)


def _cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def _forecast_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table("product", "day", "units", "p10", "p50", "p90", "model", title=title)
    for f in rows:
        table.add_row(*(_cell(f[k]) for k in ("product_id", "day", "units", "p10", "p50", "p90", "model")))
    return table


def _print_purchase(chain: dict[str, Any]) -> None:
    line = chain["line"]
    console.print(
        Text(
            f"purchase line {line['line_id']} (saga {chain['saga_id']}, tenant {chain['tenant_id']})\n"
            f"  {line['quantity']:g} of {line['ingredient_id']} from {line['supplier_id']} at {line['unit_price']:g}"
            f" per unit: order {line['order_date']}, delivery {line['delivery_date']}"
            + (" — LATE" if line["late"] else "")
            + f"\n  rule {line['rule']}: {line['reason']}"
            + _release_text(chain.get("release"))
        ),
        soft_wrap=True,
    )
    facts = Table("group", "fact", "value", title="reasoning")
    for group, values in chain["facts"].items():
        for i, (name, value) in enumerate(values.items()):
            facts.add_row(group if i == 0 else "", name, _cell(value))
    console.print(facts)
    requirements = Table("day", "quantity", "sd", title=f"requirements of {line['ingredient_id']} it covers")
    for r in chain["requirements"]:
        requirements.add_row(r["day"], _cell(r["quantity"]), _cell(r["quantity_sd"]))
    console.print(requirements)
    batches = Table(
        "batch", "product", "day", "batches", "units", title=f"batches whose recipes need {line['ingredient_id']}"
    )
    for b in chain["batches"]:
        batches.add_row(b["batch_id"], b["product_id"], b["day"], str(b["batches"]), str(b["units"]))
    console.print(batches)
    console.print(_forecast_table(chain["forecast"], "forecast of those products and days"))


def _release_text(release: dict[str, Any] | None) -> str:
    if release is None:
        return ""
    if release["outcome"] == "held":
        return f"\n  not ordered yet: {release['note']}"
    r = release
    return (
        f"\n  ordered in {r['po_number']} to {r['supplier_name']}:"
        f" {r['quantity']:g} {r['unit']} {r['ingredient_name']},"
        f" {r['amount']:,.2f} {r['currency']}, delivery {r['delivery_date']}"
    )


def _print_batch(chain: dict[str, Any]) -> None:
    batch = chain["batch"]
    console.print(
        Text(
            f"batch {batch['batch_id']} (saga {chain['saga_id']}, tenant {chain['tenant_id']})\n"
            f"  {batch['batches']} batch(es), {batch['units']} units of {batch['product_id']} on {batch['day']}"
            f"\n  rule {chain['rule']}: {batch['reason']}"
        ),
        soft_wrap=True,
    )
    console.print(_forecast_table(chain["forecast"], "forecast"))
    facts = Table("fact", "value", title="reasoning")
    for name, value in chain["facts"].items():
        facts.add_row(name, _cell(value))
    console.print(facts)
    needs = Table("ingredient or component", "quantity", title="what it needs")
    for item in chain["ingredients"]:
        needs.add_row(item["ingredient_id"], _cell(item["quantity"]))
    for item in chain["components"]:
        needs.add_row(f"{item['component_id']} (component)", _cell(item["quantity"]))
    console.print(needs)


def register(app: typer.Typer) -> None:
    archive = typer.Typer(help="The append-only, hash-chained audit archive of every saga event.", no_args_is_help=True)
    archive.command("verify")(audit_verify)
    app.add_typer(archive, name="audit")
    app.command("replay")(replay_command)
    app.command("explain")(explain_command)
