"""Passwords, login sessions and the role checks every write endpoint goes through.

Passwords are stored as salted scrypt hashes. A login yields a random token; only its SHA-256 is stored, with an
expiry. The web page carries the token in an HttpOnly, SameSite=Strict cookie; API clients send it as a Bearer
token. Anonymous callers get 401 on anything that writes, signed-in callers without the role get 403.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from api.store import User

SESSION_COOKIE = "lvzhi_session"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_CHARS = 8
_FAILURES_BEFORE_LOCK = 5
_LOCK_SECONDS = 300.0


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = lambda b: base64.b64encode(b).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"密码至少 {MIN_PASSWORD_CHARS} 个字符")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def expiry(hours: int) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat(timespec="seconds")


@dataclass
class LoginGuard:
    """Slows password guessing: after a few failures a name is locked for a few minutes."""

    failures: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, name: str) -> None:
        with self.lock:
            recent = [t for t in self.failures.get(name, []) if time.monotonic() - t < _LOCK_SECONDS]
            self.failures[name] = recent
        if len(recent) >= _FAILURES_BEFORE_LOCK:
            raise HTTPException(429, f"该账号连续登录失败次数过多，请 {int(_LOCK_SECONDS // 60)} 分钟后再试")

    def failed(self, name: str) -> None:
        with self.lock:
            self.failures.setdefault(name, []).append(time.monotonic())

    def succeeded(self, name: str) -> None:
        with self.lock:
            self.failures.pop(name, None)


def request_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE, "")


def optional_user(request: Request) -> User | None:
    """The signed-in user, or None for an anonymous or expired caller."""
    cached = getattr(request.state, "user", False)
    if cached is not False:
        return cached
    token = request_token(request)
    user = None
    if token:
        found = request.app.state.services.store.sessions.user_for(token_digest(token))
        user = found[0] if found else None
    request.state.user = user
    return user


def _unauthorized() -> HTTPException:
    return HTTPException(401, "请先登录", headers={"WWW-Authenticate": "Bearer"})


def require_user(request: Request) -> User:
    user = optional_user(request)
    if user is None:
        raise _unauthorized()
    return user


ROLE_NEEDED_LABELS = {"drafter": "起草人", "reviewer": "审核人", "admin": "管理员"}


def require_role(role: str):
    """A dependency: 401 when anonymous, 403 when the user's role is below `role`."""

    def dependency(request: Request) -> User:
        user = require_user(request)
        if not user.has_role(role):
            raise HTTPException(403, f"需要「{ROLE_NEEDED_LABELS[role]}」或更高权限（当前：{user.role_label}）")
        return user

    dependency.__name__ = f"require_{role}"
    return dependency


require_drafter = require_role("drafter")
require_reviewer = require_role("reviewer")
require_admin = require_role("admin")
