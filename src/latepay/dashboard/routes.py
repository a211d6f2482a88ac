"""The dashboard's pages under ``/`` of ``latepay serve``.

Every page needs a session: ``/login`` exchanges an API key (viewer, collector or admin) for
a signed, HTTP-only cookie (see :mod:`latepay.dashboard.session`). Pages are rendered on the
server; their charts are Plotly figures drawn by the bundled plotly.js.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from latepay.actions.worklist import default_as_of
from latepay.api.keys import Role
from latepay.dashboard import pages
from latepay.dashboard.health import ModelHealth
from latepay.dashboard.render import ASSET_TYPES, asset, render_page
from latepay.dashboard.session import COOKIE_NAME, DASHBOARD_ROLES
from latepay.db.tables import utcnow
from latepay.errors import InputError, LatepayError, NotFoundError

router = APIRouter(include_in_schema=False)
# Pages may be cached by no one: they show money and change with every payment.
NO_STORE = {"Cache-Control": "no-store"}
# Everything the pages load is bundled and served by us; inline scripts draw the charts.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline' "
    "'unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


class SignInRequired(Exception):
    """Raised by :func:`signed_in`; answered with a redirect to the sign-in page."""

    def __init__(self, next_path: str) -> None:
        self.next_path = next_path


def signed_in(request: Request) -> Role:
    """The role of the session's key; redirects to /login without a valid session."""
    state = request.app.state
    digest = state.sessions.key_digest(request.cookies.get(COOKIE_NAME))
    role = state.keys.role_of_digest(digest) if digest else None
    if role not in DASHBOARD_ROLES:
        raise SignInRequired(request.url.path)
    return role


Session = Annotated[Role, Depends(signed_in)]


def install(app) -> None:
    """Add the dashboard's routes and its redirect-to-sign-in handler to ``app``."""
    state = app.state
    state.model_health = ModelHealth(state.engine, state.settings)

    async def to_sign_in(request: Request, error: SignInRequired) -> Response:
        return RedirectResponse(f"/login?next={quote(error.next_path)}", status.HTTP_303_SEE_OTHER)

    app.add_exception_handler(SignInRequired, to_sign_in)
    app.include_router(router)


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(content, status_code, headers={**NO_STORE, **SECURITY_HEADERS})


def _page(path: str, build: Callable[[], dict[str, Any]]) -> HTMLResponse:
    """The page ``build`` describes; a page explaining the problem when it cannot be built."""
    try:
        context = build()
    except NotFoundError as error:
        return _html(_problem(path, "Not found", error), status.HTTP_404_NOT_FOUND)
    except LatepayError as error:
        return _html(
            _problem(path, "Nothing to show", error), status.HTTP_422_UNPROCESSABLE_CONTENT
        )
    return _html(render_page("page.html.j2", path=path, **context))


def _problem(path: str, title: str, error: LatepayError) -> str:
    return render_page(
        "page.html.j2",
        path=path,
        title=title,
        as_of=utcnow().date(),
        part="parts/problem.html.j2",
        problem=str(error),
    )


def _day(request: Request, as_of: str | None) -> dt.date:
    if as_of is None:
        return default_as_of(request.app.state.engine)
    try:
        return dt.date.fromisoformat(as_of)
    except ValueError:
        raise InputError(f"as_of must be a day as YYYY-MM-DD, not {as_of!r}") from None


AsOf = Annotated[str | None, Query(description="Day of the page, YYYY-MM-DD.")]


@router.get("/login")
def sign_in_page(next: str = "/", error: str | None = None) -> HTMLResponse:
    return _html(
        render_page("login.html.j2", path="/login", next=_local(next), error=error),
        status.HTTP_401_UNAUTHORIZED if error else 200,
    )


@router.post("/login")
async def sign_in(request: Request) -> Response:
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    next_path = _local((form.get("next") or ["/"])[0])
    state = request.app.state
    role = state.keys.role(key) if key else None
    if role not in DASHBOARD_ROLES:
        reason = (
            "That key may not open the dashboard (billing keys are for systems)."
            if role
            else "Unknown or revoked key."
        )
        return _html(
            render_page("login.html.j2", path="/login", next=next_path, error=reason),
            status.HTTP_401_UNAUTHORIZED,
        )
    response = RedirectResponse(next_path, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE_NAME,
        state.sessions.issue(key),
        max_age=int(state.sessions.lifetime_seconds),
        httponly=True,
        secure=state.settings.session_cookie_secure,
        samesite="strict",
    )
    return response


@router.post("/logout")
def sign_out() -> Response:
    response = RedirectResponse("/login", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE_NAME)
    return response


@router.get("/static/{name}")
def static_asset(name: str) -> Response:
    if name not in ASSET_TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such file")
    return Response(
        asset(name),
        media_type=ASSET_TYPES[name],
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@router.get("/")
def overview(
    request: Request, _: Session, as_of: AsOf = None, currency: str | None = None
) -> HTMLResponse:
    state = request.app.state
    return _page(
        "/", lambda: pages.overview(state.engine, state.settings, _day(request, as_of), currency)
    )


@router.get("/risk")
def risk(request: Request, _: Session, as_of: AsOf = None) -> HTMLResponse:
    state = request.app.state
    return _page("/risk", lambda: pages.risk(state.engine, state.settings, _day(request, as_of)))


@router.get("/worklist")
def worklist(request: Request, _: Session, as_of: AsOf = None) -> HTMLResponse:
    state = request.app.state
    return _page(
        "/worklist", lambda: pages.worklist(state.engine, state.settings, _day(request, as_of))
    )


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str, _: Session) -> HTMLResponse:
    state = request.app.state
    return _page("/customers", lambda: pages.customer(state.engine, state.settings, customer_id))


@router.get("/forecast")
def forecast(
    request: Request, _: Session, as_of: AsOf = None, currency: str | None = None
) -> HTMLResponse:
    state = request.app.state
    return _page(
        "/forecast",
        lambda: pages.forecast(state.engine, state.settings, _day(request, as_of), currency),
    )


@router.get("/model")
def model(request: Request, _: Session) -> HTMLResponse:
    state = request.app.state
    served = state.champion.version
    health = state.model_health.latest(served)
    return _page(
        "/model", lambda: pages.model(state.engine, state.settings, served=served, health=health)
    )


def _local(path: str) -> str:
    # Only paths on this site: an open redirect would let a link send a user anywhere.
    local = path.startswith("/") and not path.startswith("//") and "\\" not in path
    return path if local else "/"
