"""The console's operator actions (POST): trigger, re-run, schedule pause and resume, dead-letter replay.

Each goes through the CLI's own use case (`bakeplan.cli.runs.request_plan`, `orchestrator.scheduler.set_paused`,
`infra.messaging.dead_letter_replay.replay`), needs the operator role and the tenant granted, and is
recorded in `console.actions` (a refusal too)."""

from datetime import UTC, date, datetime
from uuid import UUID

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from bakeplan.acl_table import Principal
from bakeplan.cli import run_views
from bakeplan.cli.runs import UnknownTenantError, request_plan
from bakeplan.cli.tenant_views import business_date_for
from bakeplan.console import action_log
from bakeplan.console.app import ForbiddenError, UnavailableError, checked_form, current_user, engine_of
from bakeplan.console.users import User
from infra.messaging import dead_letter_records, dead_letter_replay
from orchestrator import scheduler
from orchestrator.engine import SagaStatus
from orchestrator.tables import dead_letter_replays

router = APIRouter()


async def _allowed(request: Request, user: User, action: str, tenant: str | None, target: str) -> None:
    """Operator role and the tenant granted, else the refusal is recorded and a 403 raised."""
    why = None
    if not user.is_operator:
        why = f"{action} needs the operator role; {user.username} is a {user.role.value}"
    elif not user.may_see(tenant):
        why = f"{action}: tenant {tenant!r} is not granted to {user.username}"
    if why is None:
        return
    async with engine_of(request).begin() as conn:
        await action_log.record(conn, user, action, outcome="refused", tenant_id=tenant, target=target, detail=why)
    raise ForbiddenError(why)


def _back(request: Request, to: str, flash: str) -> Response:
    request.session["flash"] = flash
    return RedirectResponse(to, status_code=303)


async def _plan(request: Request, user: User, action: str, tenant: str, day: date | None, *, rerun: bool) -> Response:
    settings = request.app.state.settings
    async with engine_of(request).connect() as conn:
        business_date = day or await business_date_for(conn, tenant, datetime.now(UTC))
        if business_date is None:
            raise ForbiddenError(f"unknown tenant {tenant!r}")
        failure: str | None = None
        try:
            saga_id, status, already = await request_plan(
                settings, conn, tenant, business_date, requested_by=f"console:{user.username}", rerun=rerun
            )
        except UnknownTenantError as exc:
            raise ForbiddenError(str(exc)) from exc
        except KafkaError as exc:
            failure = f"{business_date}: Kafka at {settings.kafka_bootstrap} refused the trigger ({exc!r})"
    async with engine_of(request).begin() as conn:  # after the publish: its outcome is known
        if failure is not None:
            await action_log.record(conn, user, action, outcome="failed", tenant_id=tenant, detail=failure)
        else:
            detail = f"{business_date}: " + (f"already planned ({status})" if already else "trigger published")
            await action_log.record(
                conn, user, action, outcome="done", tenant_id=tenant, target=str(saga_id), detail=detail
            )
    if failure is not None:
        raise UnavailableError(f"{failure}; nothing was started, try again")
    return _back(request, f"/sagas/{saga_id}", f"{action} {tenant} {detail}")


@router.post("/runs/trigger")
async def trigger(request: Request, user: User = Depends(current_user)) -> Response:  # noqa: B008 (FastAPI idiom)
    form = await checked_form(request)
    tenant = form.get("tenant", "")
    await _allowed(request, user, "trigger", tenant, form.get("date", ""))
    try:
        day = date.fromisoformat(form["date"]) if form.get("date") else None
    except ValueError as exc:
        raise ForbiddenError(f"date {form['date']!r} is not YYYY-MM-DD") from exc
    return await _plan(request, user, "trigger", tenant, day, rerun=False)


@router.post("/sagas/{saga_id}/rerun")
async def rerun(request: Request, saga_id: UUID, user: User = Depends(current_user)) -> Response:  # noqa: B008
    await checked_form(request)
    async with engine_of(request).connect() as conn:
        found = await run_views.saga(conn, saga_id)
    if found is None:
        raise ForbiddenError(f"no saga {saga_id}")
    await _allowed(request, user, "rerun", found["tenant_id"], str(saga_id))
    if found["status"] not in (SagaStatus.COMPENSATED, SagaStatus.FAILED):
        raise ForbiddenError(f"saga {saga_id} is {found['status']}: only a compensated or failed day is planned again")
    return await _plan(request, user, "rerun", found["tenant_id"], found["business_date"], rerun=True)


async def _pause(request: Request, user: User, tenant: str, *, paused: bool) -> Response:
    await checked_form(request)
    action = "schedule_pause" if paused else "schedule_resume"
    await _allowed(request, user, action, tenant, tenant)
    async with engine_of(request).begin() as conn:  # the change and its record commit together
        found = await scheduler.set_paused(conn, tenant, paused=paused)
        await action_log.record(
            conn, user, action, outcome="done" if found else "failed", tenant_id=tenant, target=tenant,
            detail="" if found else "no schedule",
        )  # fmt: skip
    if not found:
        raise ForbiddenError(f"tenant {tenant!r} has no schedule: create one with `bakeplan schedule set`")
    return _back(request, "/schedules", f"{tenant}: {'paused' if paused else 'resumed'}")


@router.post("/schedules/{tenant}/pause")
async def pause(request: Request, tenant: str, user: User = Depends(current_user)) -> Response:  # noqa: B008
    return await _pause(request, user, tenant, paused=True)


@router.post("/schedules/{tenant}/resume")
async def resume(request: Request, tenant: str, user: User = Depends(current_user)) -> Response:  # noqa: B008
    return await _pause(request, user, tenant, paused=False)


@router.post("/dead-letters/replay")
async def replay(request: Request, user: User = Depends(current_user)) -> Response:  # noqa: B008
    form = await checked_form(request)
    settings = request.app.state.settings
    try:
        record_id = dead_letter_records.parse_record_id(form.get("id", ""))
    except dead_letter_records.UnknownRecordError as exc:
        raise ForbiddenError(str(exc)) from exc
    parked = await dead_letter_replay.read_parked(settings, principal=Principal.OPERATOR)
    message = next((m for m in parked if m.record_id == record_id), None)
    if message is None:
        raise ForbiddenError(f"no parked record {form.get('id')} on the dead-letter topic")
    await _allowed(request, user, "dlq_replay", message.tenant, message.id)
    try:
        plan = await dead_letter_replay.replay(
            settings,
            principal=Principal.OPERATOR,
            replays=dead_letter_replays,
            ids=[record_id],
            force=form.get("force") == "on",
            replayed_by=f"console:{user.username}",
        )
        outcome = "done" if plan.replay else "skipped"
        detail = f"→ {message.source_topic}" if plan.replay else "; ".join(why for _, why in plan.skipped)
    except dead_letter_records.DeadLetterError as exc:
        outcome, detail = "failed", str(exc)
    async with engine_of(request).begin() as conn:
        await action_log.record(
            conn, user, "dlq_replay", outcome=outcome, tenant_id=message.tenant, target=message.id, detail=detail
        )
    return _back(request, "/dead-letters", f"replay {message.id}: {outcome} {detail}")
