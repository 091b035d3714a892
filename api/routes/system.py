"""Health, login and logout, and who the caller is."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.auth import (
    SESSION_COOKIE,
    expiry,
    new_token,
    optional_user,
    request_token,
    token_digest,
    verify_password,
)
from api.jobs import capabilities
from api.routes.common import services
from api.store import User

router = APIRouter(prefix="/api", tags=["系统"])

# A well-formed hash no password matches: unknown names cost the same scrypt work as known ones.
_DUMMY_HASH = "scrypt$16384$8$1$" + "A" * 22 + "==$" + "A" * 43 + "="


class LoginRequest(BaseModel):
    name: str = Field(..., max_length=100, description="用户名")
    password: str = Field(..., max_length=1000, description="密码")


@router.get("/health", summary="服务状态：模型是否加载完成、当前清单与模型版本")
def health(request: Request) -> dict:
    svc = services(request)
    state = svc.pool.state().to_dict()
    return {
        "status": "ok" if state["ready"] else ("error" if state["error"] else "loading"),
        **state,
        "database": svc.store.db.dialect.name,
        "capabilities": capabilities().to_dict(),
        "current_job": svc.jobs.current_job,
        "classify_calls": svc.batcher.batches,
        "classify_texts": svc.batcher.texts,
        "classify_in_flight": svc.batcher.in_flight,
    }


@router.post("/login", summary="登录：返回令牌（API 用 Bearer），同时设置网页用的 Cookie")
async def login(body: LoginRequest, request: Request, response: Response) -> dict:
    svc = services(request)
    name = body.name.strip()
    svc.login_guard.check(name)
    found = await run_in_threadpool(svc.store.users.credentials, name)
    # The hash is checked even for unknown names, so timing does not reveal which names exist.
    stored = found[1] if found else _DUMMY_HASH
    ok = await run_in_threadpool(verify_password, body.password, stored)
    if not (found and ok and found[0].active):
        svc.login_guard.failed(name)
        raise HTTPException(401, "用户名或密码错误", headers={"WWW-Authenticate": "Bearer"})
    svc.login_guard.succeeded(name)
    user = found[0]
    token = new_token()
    expires_at = expiry(svc.settings.session_hours)
    await run_in_threadpool(svc.store.sessions.create, user.id, token_digest(token), expires_at)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=svc.settings.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )
    return {"token": token, "token_type": "bearer", "expires_at": expires_at, "user": user.to_dict()}


@router.post("/logout", summary="退出登录（令牌立即失效）")
def logout(request: Request, response: Response) -> dict:
    token = request_token(request)
    if token:
        services(request).store.sessions.delete(token_digest(token))
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ok": True}


@router.get("/me", summary="当前用户（未登录时 user 为 null）")
def me(request: Request, user: User | None = Depends(optional_user)) -> dict:
    svc = services(request)
    return {"user": user.to_dict() if user else None, "anonymous_classify": svc.settings.allow_anonymous_classify}
