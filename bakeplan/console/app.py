"""`create_app`: the console's composition root (settings → engine → routes), and its login and guards.

Sessions are a signed cookie (Starlette's SessionMiddleware, itsdangerous) holding the user name and a
CSRF token; every POST form carries the token and is refused without it. The user is read from
Postgres on every request, so a changed role or grant applies at once.
"""

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.middleware.sessions import SessionMiddleware

from bakeplan.console import action_log, users
from bakeplan.console.settings import ConsoleSettings
from infra.db import create_engine
from infra.settings import Settings

HERE = Path(__file__).parent


class LoginRequiredError(Exception):
    """No session, or its user is gone: the page redirects to the login form."""


class ForbiddenError(Exception):
    """The user may not do or see this; the message says why (shown on a 403 page)."""


class UnavailableError(Exception):
    """A server the action needs (Kafka) failed it; the message names it (shown on a 503 page)."""


def templates() -> Jinja2Templates:
    found = Jinja2Templates(directory=HERE / "templates")
    found.env.globals["app_name"] = "bakeplan console"
    return found


def engine_of(request: Request) -> AsyncEngine:
    engine: AsyncEngine = request.app.state.engine
    return engine


async def current_user(request: Request) -> users.User:
    name = request.session.get("user")
    if not name:
        raise LoginRequiredError
    async with engine_of(request).connect() as conn:
        user = await users.load_user(conn, name)
    if user is None:
        request.session.clear()
        raise LoginRequiredError
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def checked_form(request: Request) -> dict[str, str]:
    """The POSTed form once its CSRF token matches the session's; ForbiddenError otherwise."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not secrets.compare_digest(sent, csrf_token(request)):
        raise ForbiddenError("the form's CSRF token is missing or stale: reload the page and try again")
    return {k: v for k, v in form.items() if isinstance(v, str)}


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    page: HTMLResponse = request.app.state.templates.TemplateResponse(
        request,
        name,
        {"csrf_token": csrf_token(request), "flash": request.session.pop("flash", None), **context},
        status_code=status_code,
    )
    return page


def create_app(settings: Settings, console: ConsoleSettings) -> FastAPI:
    """The console app; the engine is made on start-up and disposed of on shut-down."""
    from bakeplan.console import actions, pages  # routes import this module's guards

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = create_engine(settings)
        try:
            yield
        finally:
            await app.state.engine.dispose()

    app = FastAPI(title="bakeplan console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.console = console
    app.state.templates = templates()
    app.add_middleware(
        SessionMiddleware,
        secret_key=console.secret_key.get_secret_value(),
        session_cookie="bakeplan_console",
        max_age=console.session_max_age_seconds,
        same_site="strict",
        https_only=console.https_only,
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(LoginRequiredError)
    async def to_login(request: Request, exc: LoginRequiredError) -> Response:
        return RedirectResponse(f"/login?next={request.url.path}", status_code=303)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return render(request, "forbidden.html", status_code=403, reason=str(exc), user=None)

    @app.exception_handler(UnavailableError)
    async def unavailable(request: Request, exc: UnavailableError) -> Response:
        return render(request, "forbidden.html", status_code=503, reason=str(exc), user=None)

    @app.get("/login")
    async def login_form(request: Request, next: str = "/runs") -> Response:
        return render(request, "login.html", user=None, next=next, error=None)

    @app.post("/login")
    async def login(request: Request) -> Response:
        form = await checked_form(request)
        name, password = form.get("username", ""), form.get("password", "")
        async with engine_of(request).begin() as conn:
            user = await users.authenticate(conn, name, password)
            await action_log.record(conn, user or name, "login", outcome="done" if user else "refused")
        if user is None:
            return render(request, "login.html", status_code=401, user=None, next=form.get("next", "/runs"),
                          error="wrong user name or password")  # fmt: skip
        request.session.clear()
        request.session["user"] = user.username
        request.session["csrf"] = secrets.token_urlsafe(32)  # a new token per login
        target = form.get("next", "/runs")
        return RedirectResponse(target if target.startswith("/") and not target.startswith("//") else "/runs", 303)

    @app.post("/logout")
    async def logout(request: Request) -> Response:
        await checked_form(request)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    app.include_router(pages.router)
    app.include_router(actions.router)
    return app
