"""Helpers shared by the API, kill and browser tests: a private LVZHI_HOME that reuses the test model, users,
logins, polling, and a real server in a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from api.auth import hash_password
from api.store import Store
from lvzhi.config import Settings

REPO = Path(__file__).resolve().parent.parent
PASSWORDS = {"admin": "admin-password-1", "reviewer": "reviewer-password-1", "drafter": "drafter-password-1"}

# Tickets whose answers on the bundled reference catalog are known (labelled set R0004 and hand-checked ones).
PENSION_TICKET = (
    "我爸每个月一百多块的养老金这个月没到账，说是没认证，老人不会弄手机，眼睛也看不清，怎么办？希望尽快处理。"
)
PENSION_ENTRY = "JB047"


def private_home(base: Path, shared: Settings) -> Path:
    """A fresh home (database, jobs, catalogs) that borrows the already-built model and index cache."""
    base.mkdir(parents=True, exist_ok=True)
    for name in ("models", "index"):
        source = shared.home / name
        source.mkdir(parents=True, exist_ok=True)
        if not (base / name).exists():
            (base / name).symlink_to(source, target_is_directory=True)
    return base


def add_users(settings: Settings) -> None:
    store = Store.open(settings)
    try:
        for role, password in PASSWORDS.items():
            if store.users.get(role) is None:
                store.users.add(role, role, hash_password(password))
    finally:
        store.close()


def bearer(client: httpx.Client, role: str) -> dict[str, str]:
    reply = client.post("/api/login", json={"name": role, "password": PASSWORDS[role]})
    assert reply.status_code == 200, reply.text
    client.cookies.clear()  # the login cookie would make later "anonymous" calls signed in
    return {"Authorization": "Bearer " + reply.json()["token"]}


def wait_for(condition: Callable[[], object], timeout: float = 300.0, every: float = 0.2, what: str = "") -> object:
    """Poll until condition() is truthy; fail with `what` when it never becomes so."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(every)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerProcess:
    """`lvzhi serve` in a subprocess, exactly as a user starts it."""

    def __init__(self, home: Path, port: int | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.home = home
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = home / f"server-{self.port}.log"
        self.proc: subprocess.Popen | None = None
        self.extra_env = extra_env or {}

    def start(self, ready_timeout: float = 600.0) -> ServerProcess:
        env = {
            **os.environ,
            "LVZHI_HOME": str(self.home),
            "LVZHI_THREADS": os.environ.get("LVZHI_THREADS", "1"),
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lvzhi.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(self._ready, timeout=ready_timeout, every=0.5, what=f"server ready (log: {self.log_path})")
        return self

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"server exited with {self.proc.returncode}: {self.log_path.read_text()[-3000:]}")
        try:
            return httpx.get(self.url + "/api/health", timeout=5).json().get("ready", False)
        except (httpx.HTTPError, ValueError):
            return False

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no flushing — what a power cut or OOM killer does."""
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()
        if not self._log.closed:
            self._log.close()


class ThreadServer:
    """The app on a real loopback socket, served by uvicorn in a thread of the test process."""

    def __init__(self, app, port: int | None = None, lifespan: str = "on") -> None:
        """lifespan="off" when the app is already started (e.g. by a TestClient in the same test)."""
        import uvicorn

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        )
        self._thread = None

    def __enter__(self) -> ThreadServer:
        import threading

        self._thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)
        self._thread.start()
        wait_for(lambda: self.server.started, timeout=120, what="uvicorn started")
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=60)
