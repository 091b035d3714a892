"""The workbench pages: server-rendered HTML with a little vanilla JS per page (no build step)."""

from __future__ import annotations

import urllib.parse
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from api.auth import ROLE_NEEDED_LABELS, optional_user
from api.jobs import capabilities
from api.routes.common import services

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=TEMPLATES_DIR)

router = APIRouter(include_in_schema=False)

NAV = (
    ("quick", "/", "速查", ""),
    ("bulk", "/bulk", "批量", "drafter"),
    ("review", "/review", "审核", "reviewer"),
    ("merge", "/merge", "归并", "drafter"),
    ("catalog", "/catalog", "清单", ""),
    ("users", "/users", "用户", "admin"),
)


def _render(request: Request, template: str, page: str, title: str, status_code: int = 200, **context) -> Response:
    user = optional_user(request)
    svc = services(request)
    nav = [
        (key, href, label)
        for key, href, label, role in NAV
        if key != "users" or (user is not None and user.has_role("admin"))
    ]
    return templates.TemplateResponse(
        request,
        template,
        {
            "page": page,
            "title": title,
            "user": user,
            "nav": nav,
            "state": svc.pool.state(),
            "settings": svc.settings,
            **context,
        },
        status_code=status_code,
    )


def _gate(request: Request, role: str, page: str, title: str) -> Response | None:
    """None when the user may see the page; otherwise the login redirect or a 403 page."""
    if not role:
        return None
    user = optional_user(request)
    if user is None:
        target = urllib.parse.quote(request.url.path)
        return RedirectResponse(f"/login?next={target}", status_code=303)
    if not user.has_role(role):
        return _render(request, "forbidden.html", page, title, status_code=403, needed=ROLE_NEEDED_LABELS[role])
    return None


def _page(key: str, template: str, title: str, role: str, **extra):
    def view(request: Request) -> Response:
        return _gate(request, role, key, title) or _render(request, template, key, title, caps=capabilities(), **extra)

    view.__name__ = f"page_{key}"
    return view


router.add_api_route("/", _page("quick", "quick.html", "速查", ""), methods=["GET"], response_class=HTMLResponse)
router.add_api_route(
    "/bulk", _page("bulk", "bulk.html", "批量", "drafter"), methods=["GET"], response_class=HTMLResponse
)
router.add_api_route(
    "/review", _page("review", "review.html", "审核", "reviewer"), methods=["GET"], response_class=HTMLResponse
)
router.add_api_route(
    "/merge", _page("merge", "merge.html", "归并", "drafter"), methods=["GET"], response_class=HTMLResponse
)
router.add_api_route(
    "/catalog", _page("catalog", "catalog.html", "清单", ""), methods=["GET"], response_class=HTMLResponse
)
router.add_api_route(
    "/users", _page("users", "users.html", "用户", "admin"), methods=["GET"], response_class=HTMLResponse
)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str = "/") -> Response:
    # Only local paths: a login link must not be able to send the user to another site.
    safe_next = next if next.startswith("/") and not next.startswith("//") else "/"
    return _render(request, "login.html", "login", "登录", next=safe_next)
