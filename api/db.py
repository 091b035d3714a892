"""One database, two engines: an SQLite file (default) or PostgreSQL by URL.

All SQL in the store is written once, portably, with `?` placeholders; this module adapts it to the engine
(placeholder style, the auto-increment key type) and runs the numbered migrations.
"""

from __future__ import annotations

import datetime as dt
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from lvzhi.config import Settings

SQLITE_FILENAME = "lvzhi.db"
_BUSY_TIMEOUT_MS = 15_000


class DatabaseError(RuntimeError):
    """The database cannot be opened or migrated; the message says what to check."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Migration:
    number: int
    name: str
    statements: tuple[str, ...]  # `{serial_pk}` stands for the engine's auto-increment primary key


class Cursorish(Protocol):
    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction:
    """The handle a `with db.transaction()` block gets: run statements, read rows as dicts."""

    def __init__(self, conn: Any, dialect: Dialect) -> None:
        self._conn = conn
        self._dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursorish:
        return self._conn.execute(self._dialect.adapt(sql), tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        cur = self.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else self._dialect.as_dict(cur, row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        cur = self.execute(sql, params)
        return [self._dialect.as_dict(cur, row) for row in cur.fetchall()]

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        cur = self.execute(sql, params)
        row = cur.fetchone()
        return None if row is None else row[0]


class Dialect:
    name = "base"
    serial_pk = ""

    def adapt(self, sql: str) -> str:
        return sql

    def as_dict(self, cursor: Any, row: Any) -> dict:
        return {d[0]: v for d, v in zip(cursor.description, row)}

    def ddl(self, statement: str) -> str:
        return statement.replace("{serial_pk}", self.serial_pk)


class SqliteDialect(Dialect):
    name = "sqlite"
    serial_pk = "INTEGER PRIMARY KEY AUTOINCREMENT"


class PostgresDialect(Dialect):
    name = "postgresql"
    serial_pk = "BIGSERIAL PRIMARY KEY"

    def adapt(self, sql: str) -> str:
        # Our SQL never contains a literal "?" or "%", so a plain swap is exact.
        return sql.replace("%", "%%").replace("?", "%s")


class Database:
    """Short transactions on fresh (SQLite) or pooled (PostgreSQL) connections; safe to share between threads."""

    def __init__(self, url: str, sqlite_path: Path | None = None) -> None:
        self.url = url
        self.sqlite_path = sqlite_path
        if sqlite_path is not None:
            self.dialect: Dialect = SqliteDialect()
            sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        else:
            self.dialect = PostgresDialect()
            try:
                import psycopg  # noqa: F401  (optional driver, only needed for a PostgreSQL URL)
            except ImportError as exc:
                raise DatabaseError("使用 PostgreSQL 需要安装 psycopg：pip install 'psycopg[binary]'") from exc
        self._pool: queue.LifoQueue = queue.LifoQueue()
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        url = settings.database_url.strip()
        if not url:
            return cls("sqlite:///" + str(settings.home / SQLITE_FILENAME), settings.home / SQLITE_FILENAME)
        if url.startswith("sqlite:///"):
            return cls(url, Path(url[len("sqlite:///") :]).expanduser())
        if url.startswith(("postgresql://", "postgres://")):
            return cls(url)
        raise DatabaseError(f"无法识别的数据库地址：{url}（支持 sqlite:///文件路径 或 postgresql://…）")

    @property
    def description(self) -> str:
        if self.sqlite_path is not None:
            return f"SQLite {self.sqlite_path}"
        return "PostgreSQL " + self.url.split("@")[-1]

    # -- connections ------------------------------------------------------------------------------------------------

    def _open_sqlite(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.sqlite_path, timeout=_BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit that was acknowledged survives a power cut, not only a killed process.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _open_postgres(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, autocommit=True)

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        if self.sqlite_path is not None:
            conn = self._open_sqlite()
            try:
                yield conn
            finally:
                conn.close()
            return
        try:
            conn = self._pool.get_nowait()
        except queue.Empty:
            conn = self._open_postgres()
        healthy = True
        try:
            yield conn
        except Exception:
            healthy = not getattr(conn, "broken", False) and not conn.closed
            raise
        finally:
            if healthy and not self._closed:
                self._pool.put(conn)
            else:
                conn.close()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """BEGIN … COMMIT; an exception rolls back. SQLite write transactions take the write lock up front."""
        with self._connection() as conn:
            begin = "BEGIN IMMEDIATE" if (write and self.dialect.name == "sqlite") else "BEGIN"
            conn.execute(begin)
            try:
                yield Transaction(conn, self.dialect)
            except BaseException:
                try:
                    conn.execute("ROLLBACK")
                except Exception:
                    pass  # the connection itself failed; the original error is the one to report
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._pool.get_nowait().close()
            except queue.Empty:
                return

    # -- migrations -------------------------------------------------------------------------------------------------

    def migrate(self, migrations: Sequence[Migration]) -> list[int]:
        """Apply the migrations not yet recorded, each in its own transaction; returns the numbers applied."""
        numbers = [m.number for m in migrations]
        if numbers != sorted(set(numbers)):
            raise DatabaseError("迁移编号必须唯一且递增")
        applied_now = []
        with self.transaction() as tx:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                "name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for migration in migrations:
            with self.transaction() as tx:
                if self.dialect.name == "postgresql":
                    # Two servers starting together must not both apply the same migration.
                    tx.execute("SELECT pg_advisory_xact_lock(7426001)")
                if tx.scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = ?", (migration.number,)):
                    continue
                for statement in migration.statements:
                    tx.execute(self.dialect.ddl(statement))
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.number, migration.name, utc_now()),
                )
                applied_now.append(migration.number)
        return applied_now

    def applied_migrations(self) -> list[int]:
        with self.transaction(write=False) as tx:
            return [r["version"] for r in tx.all("SELECT version FROM schema_migrations ORDER BY version")]

    def integrity_ok(self) -> bool:
        if self.dialect.name != "sqlite":
            return True
        with self.transaction(write=False) as tx:
            return tx.scalar("PRAGMA integrity_check") == "ok"
