"""The console's pages (GET): runs, a saga, a line's explain, a forecast chart, dead letters, schedules,
health and the action log. Each shows only the tenants granted to the user; another tenant's saga is a 403."""

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from bakeplan.acl_table import Principal
from bakeplan.cli import run_views
from bakeplan.cli.audit import explain_line
from bakeplan.cli.tenant_views import list_tenants
from bakeplan.console import action_log, charts, health, reads
from bakeplan.console.app import ForbiddenError, current_user, engine_of, render
from bakeplan.console.users import User
from infra.messaging import dead_letter_records, dead_letter_replay
from orchestrator import scheduler
from orchestrator.engine import SagaStatus
from orchestrator.ports import LIVE_STATUSES, SagaKind
from orchestrator.replay_explain import UnknownLineError
from orchestrator.tables import dead_letter_replays

router = APIRouter()
Viewer = Annotated[User, Depends(current_user)]
STATUSES = [s.value for s in SagaStatus]
KINDS = [k.value for k in SagaKind]


def _granted(user: User) -> list[str] | None:
    """The tenant filter of a query: None = every tenant."""
    return None if user.all_tenants else sorted(user.tenants)


def _day(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise ForbiddenError(f"date {value!r} is not YYYY-MM-DD") from exc


async def _runs(request: Request, user: User, filters: dict[str, str]) -> list[dict[str, Any]]:
    tenant = filters.get("tenant") or None
    if tenant and not user.may_see(tenant):
        raise ForbiddenError(f"you may not see tenant {tenant!r}; ask an administrator to grant it")
    async with engine_of(request).connect() as conn:
        return await run_views.list_runs(
            conn,
            tenant=tenant,
            status=filters.get("status") or None,
            kind=filters.get("kind") or None,
            business_date=_day(filters.get("date")),
            tenants=_granted(user),
            limit=100,
        )


def _filters(tenant: str | None, status: str | None, kind: str | None, day: str | None) -> dict[str, str]:
    return {k: v for k, v in {"tenant": tenant, "status": status, "kind": kind, "date": day}.items() if v}


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/runs", status_code=303)


@router.get("/runs")
async def runs_page(
    request: Request,
    user: Viewer,
    tenant: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    day: Annotated[str | None, Query(alias="date")] = None,
) -> Response:
    filters = _filters(tenant, status, kind, day)
    async with engine_of(request).connect() as conn:
        tenants, _ = await list_tenants(conn, prefix=None, limit=500, now=datetime.now(UTC))
    visible = [t for t in tenants if user.may_see(t["tenant_id"])]
    return render(
        request,
        "runs.html",
        user=user,
        runs=await _runs(request, user, filters),
        filters=filters,
        tenants=visible,
        statuses=STATUSES,
        kinds=KINDS,
        refresh_ms=int(request.app.state.console.refresh_seconds * 1000),
        today=datetime.now(UTC).date(),
    )


@router.get("/runs/rows")
async def runs_rows(
    request: Request,
    user: Viewer,
    tenant: str | None = None,
    status: str | None = None,
    kind: str | None = None,
    day: Annotated[str | None, Query(alias="date")] = None,
) -> Response:
    """The runs table's body alone: what the page's script fetches every few seconds."""
    runs = await _runs(request, user, _filters(tenant, status, kind, day))
    return render(request, "runs_rows.html", user=user, runs=runs)


async def _visible_saga(request: Request, user: User, saga_id: UUID) -> dict[str, Any]:
    async with engine_of(request).connect() as conn:
        found = await run_views.saga(conn, saga_id)
    if found is None:
        raise ForbiddenError(f"no saga {saga_id}")
    if not user.may_see(found["tenant_id"]):
        raise ForbiddenError(f"saga {saga_id} belongs to a tenant you may not see")
    return found


@router.get("/sagas/{saga_id}")
async def saga_page(request: Request, user: Viewer, saga_id: UUID) -> Response:
    found = await _visible_saga(request, user, saga_id)
    live = found["status"] in LIVE_STATUSES
    ended = datetime.now(UTC) if live else max([found["updated_at"], *(t["at"] for t in found["timeline"])])
    async with engine_of(request).connect() as conn:
        plan = await run_views.plan_of(conn, saga_id)
        snapshot = await reads.snapshot_summary(conn, found["snapshot_sha256"]) if found["snapshot_sha256"] else None
        products = await reads.forecast_products(conn, saga_id, found["tenant_id"])
    return render(
        request,
        "saga.html",
        user=user,
        saga=found,
        gantt=charts.gantt(found["timeline"], started=found["created_at"], ended=ended),
        plan=plan,
        snapshot=snapshot,
        products=products,
        live=live,
    )


@router.get("/sagas/{saga_id}/explain/{line}")
async def explain_page(request: Request, user: Viewer, saga_id: UUID, line: str) -> Response:
    await _visible_saga(request, user, saga_id)
    async with engine_of(request).connect() as conn:
        try:
            chain = await explain_line(conn, saga_id, line)
        except UnknownLineError as exc:
            raise ForbiddenError(str(exc)) from exc
    if chain is None:
        raise ForbiddenError(f"no recorded events for saga {saga_id}")
    return render(request, "explain.html", user=user, chain=chain, saga_id=saga_id)


@router.get("/sagas/{saga_id}/forecast")
async def forecast_page(request: Request, user: Viewer, saga_id: UUID, product: str | None = None) -> Response:
    found = await _visible_saga(request, user, saga_id)
    async with engine_of(request).connect() as conn:
        products = await reads.forecast_products(conn, saga_id, found["tenant_id"])
        chosen = product or (products[0]["product_id"] if products else None)
        history, rows = (
            await reads.forecast_of(conn, saga_id, found["tenant_id"], chosen, found["business_date"])
            if chosen
            else ([], [])
        )
    name = next((p["name"] for p in products if p["product_id"] == chosen), chosen)
    return render(
        request,
        "forecast.html",
        user=user,
        saga=found,
        products=products,
        product=chosen,
        product_name=name,
        chart=charts.forecast_chart(history, rows),
        rows=rows,
    )


@router.get("/dead-letters")
async def dead_letters_page(request: Request, user: Viewer) -> Response:
    error = None
    listed: list[tuple[dead_letter_records.ParkedMessage, dead_letter_records.PriorReplay | None]] = []
    try:
        listed = await dead_letter_replay.list_parked(
            request.app.state.settings, principal=Principal.OPERATOR, replays=dead_letter_replays, limit=200
        )
    except dead_letter_records.DeadLetterError as exc:
        error = str(exc)
    # a record whose key is no tenant (unreadable) is shown to those granted every tenant only
    visible = [(m, prior) for m, prior in listed if user.may_see(m.tenant)]
    return render(request, "dead_letters.html", user=user, parked=visible, error=error)


@router.get("/schedules")
async def schedules_page(request: Request, user: Viewer) -> Response:
    async with engine_of(request).connect() as conn:
        tenants, _ = await list_tenants(conn, prefix=None, limit=500, now=datetime.now(UTC))
        visible = [t for t in tenants if user.may_see(t["tenant_id"])]
        decisions = {t["tenant_id"]: await scheduler.recent_decisions(conn, t["tenant_id"], limit=5) for t in visible}
    return render(request, "schedules.html", user=user, tenants=visible, decisions=decisions)


@router.get("/health")
async def health_page(request: Request, user: Viewer) -> Response:
    settings = request.app.state.settings
    lag = await health.consumer_lag(settings)
    async with engine_of(request).connect() as conn:
        outboxes = await health.outbox_backlog(conn, datetime.now(UTC))
        in_flight = await health.sagas_in_flight(conn, tenants=None)
    return render(
        request,
        "health.html",
        user=user,
        lag=lag,
        outboxes=outboxes,
        in_flight=in_flight,
        admission=health.admission(settings, sum(in_flight.values()), lag),
    )


@router.get("/actions")
async def actions_page(request: Request, user: Viewer) -> Response:
    async with engine_of(request).connect() as conn:
        rows = await action_log.recent(conn, tenants=_granted(user), limit=100)
    return render(request, "actions.html", user=user, rows=rows)
