"""Classifications sent to review, the reviewers' queue, and their decisions."""

from __future__ import annotations

import json
from dataclasses import dataclass

from api.db import Database, utc_now

DECISIONS = ("accept", "correct", "reject")
DECISION_LABELS = {"accept": "接受", "correct": "更正", "reject": "驳回"}

# Queue order: what most needs a person comes first.
TIER_OUT_OF_LIST, TIER_RECLAIMED, TIER_UNSURE, TIER_OTHER = 0, 1, 2, 3
TIER_LABELS = {
    TIER_OUT_OF_LIST: "清单之外",
    TIER_RECLAIMED: "上级部门收回",
    TIER_UNSURE: "置信度低",
    TIER_OTHER: "一般",
}


def review_tier(match: dict) -> int:
    flags = match.get("flags") or {}
    if flags.get("out_of_list"):
        return TIER_OUT_OF_LIST
    if flags.get("reclaimed"):
        return TIER_RECLAIMED
    if flags.get("needs_review"):
        return TIER_UNSURE
    return TIER_OTHER


@dataclass(frozen=True)
class ReviewDraft:
    """What a user sends to review: the text, the answer they saw, and where that answer came from."""

    text: str
    match: dict  # Match.to_dict()
    catalog_version: str
    catalog_name: str
    model_version: str
    submitted_by: str
    note: str = ""


@dataclass(frozen=True)
class Review:
    id: int
    text: str
    catalog_version: str
    catalog_name: str
    model_version: str
    suggested_id: str
    suggested_name: str
    confidence: float
    tier: int
    match: dict
    note: str
    submitted_by: str
    submitted_at: str
    status: str
    decision: str
    final_id: str
    final_name: str
    reviewer: str
    reviewed_at: str
    comment: str

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "catalog_version": self.catalog_version,
            "catalog_name": self.catalog_name,
            "model_version": self.model_version,
            "suggested_id": self.suggested_id,
            "suggested_name": self.suggested_name,
            "confidence": self.confidence,
            "tier": self.tier,
            "tier_label": TIER_LABELS.get(self.tier, ""),
            "match": self.match,
            "note": self.note,
            "submitted_by": self.submitted_by,
            "submitted_at": self.submitted_at,
            "status": self.status,
            "decision": self.decision,
            "decision_label": DECISION_LABELS.get(self.decision, ""),
            "final_id": self.final_id,
            "final_name": self.final_name,
            "reviewer": self.reviewer,
            "reviewed_at": self.reviewed_at,
            "comment": self.comment,
        }


_COLUMNS = (
    "id, text, catalog_version, catalog_name, model_version, suggested_id, suggested_name, confidence, "
    "tier, match_json, note, submitted_by, submitted_at, status, decision, final_id, final_name, reviewer, "
    "reviewed_at, comment"
)


def _review(row: dict) -> Review:
    return Review(
        id=int(row["id"]),
        text=row["text"],
        catalog_version=row["catalog_version"],
        catalog_name=row["catalog_name"],
        model_version=row["model_version"],
        suggested_id=row["suggested_id"],
        suggested_name=row["suggested_name"],
        confidence=float(row["confidence"]),
        tier=int(row["tier"]),
        match=json.loads(row["match_json"]),
        note=row["note"],
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
        status=row["status"],
        decision=row["decision"],
        final_id=row["final_id"],
        final_name=row["final_name"],
        reviewer=row["reviewer"],
        reviewed_at=row["reviewed_at"],
        comment=row["comment"],
    )


class ReviewRepo:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, draft: ReviewDraft) -> Review:
        # An out-of-list answer suggests no entry at all (the nearest one stays visible in the match).
        best = {} if (draft.match.get("flags") or {}).get("out_of_list") else (draft.match.get("best") or {})
        with self._db.transaction() as tx:
            row = tx.one(
                "INSERT INTO reviews (text, catalog_version, catalog_name, model_version, suggested_id, "
                "suggested_name, confidence, tier, match_json, note, submitted_by, submitted_at) "
                f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING {_COLUMNS}",
                (
                    draft.text,
                    draft.catalog_version,
                    draft.catalog_name,
                    draft.model_version,
                    best.get("id", ""),
                    best.get("name", ""),
                    float(draft.match.get("confidence", 0.0)),
                    review_tier(draft.match),
                    json.dumps(draft.match, ensure_ascii=False),
                    draft.note,
                    draft.submitted_by,
                    utc_now(),
                ),
            )
        return _review(row)

    def get(self, review_id: int) -> Review | None:
        with self._db.transaction(write=False) as tx:
            row = tx.one(f"SELECT {_COLUMNS} FROM reviews WHERE id = ?", (review_id,))
        return None if row is None else _review(row)

    def queue(self, limit: int = 100, offset: int = 0) -> list[Review]:
        """Pending reviews, most in need first: out of the list, reclaimed, unsure, then by confidence."""
        with self._db.transaction(write=False) as tx:
            rows = tx.all(
                f"SELECT {_COLUMNS} FROM reviews WHERE status = 'pending' "
                "ORDER BY tier, confidence, id LIMIT ? OFFSET ?",
                (limit, offset),
            )
        return [_review(r) for r in rows]

    def submitted_by(self, name: str, limit: int = 50) -> list[Review]:
        with self._db.transaction(write=False) as tx:
            rows = tx.all(
                f"SELECT {_COLUMNS} FROM reviews WHERE submitted_by = ? ORDER BY id DESC LIMIT ?", (name, limit)
            )
        return [_review(r) for r in rows]

    def decide(
        self, review_id: int, decision: str, final_id: str, final_name: str, reviewer: str, comment: str
    ) -> Review | None:
        """Record a decision on a pending review; None when it was decided meanwhile (or never existed)."""
        if decision not in DECISIONS:
            raise ValueError(f"未知的审核决定「{decision}」")
        with self._db.transaction() as tx:
            cur = tx.execute(
                "UPDATE reviews SET status = 'decided', decision = ?, final_id = ?, final_name = ?, reviewer = ?, "
                "reviewed_at = ?, comment = ? WHERE id = ? AND status = 'pending'",
                (decision, final_id, final_name, reviewer, utc_now(), comment, review_id),
            )
            if cur.rowcount != 1:
                return None
            row = tx.one(f"SELECT {_COLUMNS} FROM reviews WHERE id = ?", (review_id,))
        return _review(row)

    def counts(self, reviewer: str = "") -> dict:
        today = utc_now()[:10]
        with self._db.transaction(write=False) as tx:
            by_status = {
                r["status"]: int(r["n"]) for r in tx.all("SELECT status, COUNT(*) AS n FROM reviews GROUP BY status")
            }
            by_decision = {
                r["decision"]: int(r["n"])
                for r in tx.all(
                    "SELECT decision, COUNT(*) AS n FROM reviews WHERE status = 'decided' GROUP BY decision"
                )
            }
            by_tier = {
                int(r["tier"]): int(r["n"])
                for r in tx.all("SELECT tier, COUNT(*) AS n FROM reviews WHERE status = 'pending' GROUP BY tier")
            }
            today_n = tx.scalar("SELECT COUNT(*) FROM reviews WHERE status = 'decided' AND reviewed_at >= ?", (today,))
            mine = tx.scalar("SELECT COUNT(*) FROM reviews WHERE status = 'decided' AND reviewer = ?", (reviewer,))
        return {
            "pending": by_status.get("pending", 0),
            "decided": by_status.get("decided", 0),
            "decided_today": int(today_n or 0),
            "decided_by_me": int(mine or 0),
            "by_decision": {DECISION_LABELS[d]: by_decision.get(d, 0) for d in DECISIONS},
            "pending_by_tier": {TIER_LABELS[t]: by_tier.get(t, 0) for t in sorted(TIER_LABELS)},
        }

    def decided(self) -> list[Review]:
        with self._db.transaction(write=False) as tx:
            rows = tx.all(f"SELECT {_COLUMNS} FROM reviews WHERE status = 'decided' ORDER BY reviewed_at, id")
        return [_review(r) for r in rows]
