"""The database schema as numbered migrations. Append new ones; never edit one that has shipped."""

from __future__ import annotations

from api.db import Migration

MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "users and sessions",
        (
            """CREATE TABLE users (
            id {serial_pk},
            name TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL
        )""",
            """CREATE TABLE sessions (
            token_hash TEXT PRIMARY KEY,
            user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            created_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        )""",
            "CREATE INDEX sessions_expires ON sessions (expires_at)",
        ),
    ),
    Migration(
        2,
        "reviews",
        (
            """CREATE TABLE reviews (
            id {serial_pk},
            text TEXT NOT NULL,
            catalog_version TEXT NOT NULL,
            catalog_name TEXT NOT NULL DEFAULT '',
            model_version TEXT NOT NULL,
            suggested_id TEXT NOT NULL DEFAULT '',
            suggested_name TEXT NOT NULL DEFAULT '',
            confidence DOUBLE PRECISION NOT NULL,
            tier INTEGER NOT NULL,
            match_json TEXT NOT NULL,
            note TEXT NOT NULL DEFAULT '',
            submitted_by TEXT NOT NULL,
            submitted_at TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            decision TEXT NOT NULL DEFAULT '',
            final_id TEXT NOT NULL DEFAULT '',
            final_name TEXT NOT NULL DEFAULT '',
            reviewer TEXT NOT NULL DEFAULT '',
            reviewed_at TEXT NOT NULL DEFAULT '',
            comment TEXT NOT NULL DEFAULT ''
        )""",
            "CREATE INDEX reviews_queue ON reviews (status, tier, confidence, id)",
            "CREATE INDEX reviews_reviewed_at ON reviews (reviewed_at)",
        ),
    ),
    Migration(
        3,
        "jobs",
        (
            """CREATE TABLE jobs (
            id {serial_pk},
            kind TEXT NOT NULL,
            status TEXT NOT NULL,
            owner TEXT NOT NULL,
            original_name TEXT NOT NULL,
            input_path TEXT NOT NULL,
            output_path TEXT NOT NULL,
            options_json TEXT NOT NULL DEFAULT '{}',
            catalog_version TEXT NOT NULL DEFAULT '',
            resume INTEGER NOT NULL DEFAULT 0,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            done_rows BIGINT NOT NULL DEFAULT 0,
            total_rows BIGINT NOT NULL DEFAULT 0,
            rate DOUBLE PRECISION NOT NULL DEFAULT 0,
            eta_s DOUBLE PRECISION,
            result_json TEXT NOT NULL DEFAULT '',
            error TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            started_at TEXT NOT NULL DEFAULT '',
            finished_at TEXT NOT NULL DEFAULT ''
        )""",
            "CREATE INDEX jobs_status ON jobs (status, id)",
            "CREATE INDEX jobs_owner ON jobs (owner, id)",
        ),
    ),
    # What a running job is doing before its rows move (e.g. distilling static vectors on first use).
    Migration(4, "job stage", ("ALTER TABLE jobs ADD COLUMN stage TEXT NOT NULL DEFAULT ''",)),
)
