"""The service's database layer: users, login sessions, reviews and jobs, on SQLite or PostgreSQL.

`export_reviews(settings)` is the read side the training code uses: every decided review as a row with Chinese
column names.
"""

from __future__ import annotations

from dataclasses import dataclass

from api.db import Database, utc_now
from api.job_store import JobRepo
from api.migrations import MIGRATIONS
from api.review_store import DECISION_LABELS, ReviewRepo
from lvzhi.config import Settings

ROLES = ("drafter", "reviewer", "admin")
ROLE_LABELS = {"drafter": "起草人", "reviewer": "审核人", "admin": "管理员"}

EXPORT_COLUMNS = ("内容", "决定", "建议事项序号", "最终事项序号", "审核人", "审核时间", "意见", "清单版本", "模型版本")


class UserExistsError(ValueError):
    """A user of that name is already registered."""


@dataclass(frozen=True)
class User:
    id: int
    name: str
    role: str
    active: bool
    created_at: str

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)

    def has_role(self, needed: str) -> bool:
        """Roles nest: an admin may do what a reviewer may, a reviewer what a drafter may."""
        return self.active and ROLES.index(self.role) >= ROLES.index(needed)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "role_label": self.role_label,
            "active": self.active,
            "created_at": self.created_at,
        }


def _user(row: dict) -> User:
    return User(int(row["id"]), row["name"], row["role"], bool(row["active"]), row["created_at"])


def check_role(role: str) -> str:
    if role not in ROLES:
        raise ValueError(f"未知角色「{role}」（可选：{' / '.join(ROLES)}）")
    return role


class UserRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, name: str, role: str, password_hash: str) -> User:
        name = name.strip()
        if not name:
            raise ValueError("用户名不能为空")
        check_role(role)
        with self._db.transaction() as tx:
            if tx.scalar("SELECT COUNT(*) FROM users WHERE name = ?", (name,)):
                raise UserExistsError(f"用户「{name}」已存在")
            row = tx.one(
                "INSERT INTO users (name, role, password_hash, active, created_at) VALUES (?, ?, ?, 1, ?) "
                "RETURNING id, name, role, active, created_at",
                (name, role, password_hash, utc_now()),
            )
        return _user(row)

    def credentials(self, name: str) -> tuple[User, str] | None:
        """The user and their stored password hash, for checking a login."""
        with self._db.transaction(write=False) as tx:
            row = tx.one(
                "SELECT id, name, role, active, created_at, password_hash FROM users WHERE name = ?", (name.strip(),)
            )
        return None if row is None else (_user(row), row["password_hash"])

    def get(self, name: str) -> User | None:
        found = self.credentials(name)
        return found[0] if found else None

    def list(self) -> list[User]:
        with self._db.transaction(write=False) as tx:
            return [_user(r) for r in tx.all("SELECT id, name, role, active, created_at FROM users ORDER BY id")]

    def update(
        self, name: str, *, role: str | None = None, password_hash: str | None = None, active: bool | None = None
    ) -> User | None:
        with self._db.transaction() as tx:
            if role is not None:
                tx.execute("UPDATE users SET role = ? WHERE name = ?", (check_role(role), name))
            if password_hash is not None:
                tx.execute("UPDATE users SET password_hash = ? WHERE name = ?", (password_hash, name))
            if active is not None:
                tx.execute("UPDATE users SET active = ? WHERE name = ?", (int(active), name))
            if password_hash is not None or active is False:
                # A changed password or a disabled account ends every open login.
                tx.execute("DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?)", (name,))
            row = tx.one("SELECT id, name, role, active, created_at FROM users WHERE name = ?", (name,))
        return None if row is None else _user(row)

    def count_admins(self) -> int:
        with self._db.transaction(write=False) as tx:
            return int(tx.scalar("SELECT COUNT(*) FROM users WHERE role = 'admin' AND active = 1"))


class SessionRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, user_id: int, token_hash: str, expires_at: str) -> None:
        now = utc_now()
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            tx.execute(
                "INSERT INTO sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_hash, user_id, now, expires_at),
            )

    def user_for(self, token_hash: str) -> tuple[User, str] | None:
        """The active user a live session belongs to, and when it expires; None for unknown or expired tokens."""
        with self._db.transaction(write=False) as tx:
            row = tx.one(
                "SELECT u.id, u.name, u.role, u.active, u.created_at, s.expires_at FROM sessions s "
                "JOIN users u ON u.id = s.user_id WHERE s.token_hash = ? AND s.expires_at > ? "
                "AND u.active = 1",
                (token_hash, utc_now()),
            )
        return None if row is None else (_user(row), row["expires_at"])

    def delete(self, token_hash: str) -> None:
        with self._db.transaction() as tx:
            tx.execute("DELETE FROM sessions WHERE token_hash = ?", (token_hash,))


class Store:
    """Everything the service keeps in its database, behind one object created once per app."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.users = UserRepo(db)
        self.sessions = SessionRepo(db)
        self.reviews = ReviewRepo(db)
        self.jobs = JobRepo(db)

    @classmethod
    def open(cls, settings: Settings) -> Store:
        db = Database.from_settings(settings)
        db.migrate(MIGRATIONS)
        return cls(db)

    def close(self) -> None:
        self.db.close()


def export_rows(store: Store) -> list[dict]:
    rows = []
    for r in store.reviews.decided():
        rows.append(
            {
                "内容": r.text,
                "决定": DECISION_LABELS[r.decision],
                "建议事项序号": r.suggested_id,
                "最终事项序号": r.final_id,
                "审核人": r.reviewer,
                "审核时间": r.reviewed_at,
                "意见": r.comment,
                "清单版本": r.catalog_version,
                "模型版本": r.model_version,
            }
        )
    return rows


def export_reviews(settings: Settings) -> list[dict]:
    """Every decided review, oldest decision first, with the Chinese keys in EXPORT_COLUMNS."""
    store = Store.open(settings)
    try:
        return export_rows(store)
    finally:
        store.close()
