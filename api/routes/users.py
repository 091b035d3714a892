"""User administration (admin only): list, add, change role or password, disable."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.auth import check_password_strength, hash_password, require_admin
from api.routes.common import services
from api.store import User, UserExistsError

router = APIRouter(prefix="/api/users", tags=["用户"])

Role = Literal["drafter", "reviewer", "admin"]


class NewUser(BaseModel):
    name: str = Field(..., min_length=1, max_length=64)
    role: Role
    password: str = Field(..., max_length=1000)


class UserChange(BaseModel):
    role: Role | None = None
    password: str | None = Field(None, max_length=1000)
    active: bool | None = None


@router.get("", summary="用户列表")
def list_users(request: Request, user: User = Depends(require_admin)) -> dict:
    return {"users": [u.to_dict() for u in services(request).store.users.list()]}


@router.post("", summary="新增用户")
async def add_user(body: NewUser, request: Request, user: User = Depends(require_admin)) -> dict:
    try:
        check_password_strength(body.password)
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    password_hash = await run_in_threadpool(hash_password, body.password)
    try:
        added = await run_in_threadpool(services(request).store.users.add, body.name, body.role, password_hash)
    except UserExistsError as exc:
        raise HTTPException(409, str(exc)) from None
    return added.to_dict()


@router.patch("/{name}", summary="修改角色、重设密码或停用（停用和改密码会使其登录失效）")
async def change_user(name: str, body: UserChange, request: Request, user: User = Depends(require_admin)) -> dict:
    store = services(request).store
    target = store.users.get(name)
    if target is None:
        raise HTTPException(404, f"没有用户「{name}」")
    losing_admin = (
        target.role == "admin"
        and target.active
        and ((body.role is not None and body.role != "admin") or body.active is False)
    )
    if losing_admin and store.users.count_admins() <= 1:
        raise HTTPException(409, "不能停用或降级最后一位管理员")
    password_hash = None
    if body.password is not None:
        try:
            check_password_strength(body.password)
        except ValueError as exc:
            raise HTTPException(422, str(exc)) from None
        password_hash = await run_in_threadpool(hash_password, body.password)
    changed = await run_in_threadpool(
        lambda: store.users.update(name, role=body.role, password_hash=password_hash, active=body.active)
    )
    return changed.to_dict()
