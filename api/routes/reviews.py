"""Sending classifications to review, the reviewers' queue, decisions, and the export training reads."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.background import BackgroundTask

from api.auth import require_drafter, require_reviewer
from api.review_store import ReviewDraft
from api.routes.classify import MAX_TEXT_CHARS, classify_texts
from api.routes.common import services
from api.store import EXPORT_COLUMNS, User, export_rows
from corpus.tables import write_table

router = APIRouter(prefix="/api/reviews", tags=["审核"])


class ReviewRequest(BaseModel):
    text: str = Field(..., max_length=MAX_TEXT_CHARS, description="要送审的事项或工单描述")
    catalog: str | None = Field(None, description="清单版本；不填用服务当前的清单")
    note: str = Field("", max_length=2000, description="送审说明（可选）")


class DecisionRequest(BaseModel):
    decision: Literal["accept", "correct", "reject"] = Field(
        ..., description="accept 接受 / correct 更正 / reject 驳回"
    )
    entry_id: str | None = Field(None, description="更正时选定的事项序号")
    comment: str = Field("", max_length=2000, description="审核意见")


@router.post("", summary="送审：按当前清单和模型匹配后放入审核队列")
async def submit(body: ReviewRequest, request: Request, user: User = Depends(require_drafter)) -> dict:
    if not body.text.strip():
        raise HTTPException(422, "送审内容不能为空")
    matcher, matches = await classify_texts(request, [body.text], body.catalog, None)
    draft = ReviewDraft(
        text=body.text,
        match=matches[0].to_dict(),
        catalog_version=matcher.catalog.version,
        catalog_name=matcher.catalog.name,
        model_version=matcher.embedder.identity,
        submitted_by=user.name,
        note=body.note.strip(),
    )
    review = await run_in_threadpool(services(request).store.reviews.add, draft)
    return review.to_dict()


@router.get("/queue", summary="待审队列：清单之外、上级收回、置信度低的排在前面")
def queue(
    request: Request,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0),
    user: User = Depends(require_reviewer),
) -> dict:
    store = services(request).store
    return {
        "items": [r.to_dict() for r in store.reviews.queue(limit, offset)],
        "counts": store.reviews.counts(user.name),
    }


@router.get("/counts", summary="审核进度统计")
def counts(request: Request, user: User = Depends(require_reviewer)) -> dict:
    return services(request).store.reviews.counts(user.name)


@router.get("/mine", summary="我送审的事项及其审核结果")
def mine(request: Request, limit: int = Query(50, ge=1, le=500), user: User = Depends(require_drafter)) -> dict:
    return {"items": [r.to_dict() for r in services(request).store.reviews.submitted_by(user.name, limit)]}


@router.get("/export", summary="导出全部审核结果（CSV 或 XLSX），供再训练使用")
def export(
    request: Request, format: Literal["csv", "xlsx"] = "csv", user: User = Depends(require_reviewer)
) -> FileResponse:
    rows = export_rows(services(request).store)
    folder = Path(tempfile.mkdtemp(prefix="lvzhi-export-"))
    path = folder / f"审核结果.{format}"
    # Header row even when nothing is decided yet, so the file always has the agreed columns.
    if rows:
        write_table(path, rows, sheet="审核结果")
    else:
        _write_header_only(path)

    def cleanup() -> None:
        path.unlink(missing_ok=True)
        folder.rmdir()

    media = (
        "text/csv; charset=utf-8"
        if format == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return FileResponse(path, media_type=media, filename=path.name, background=BackgroundTask(cleanup))


def _write_header_only(path: Path) -> None:
    if path.suffix == ".xlsx":
        import openpyxl

        book = openpyxl.Workbook(write_only=True)
        book.create_sheet("审核结果").append(list(EXPORT_COLUMNS))
        book.save(path)
    else:
        path.write_text(",".join(EXPORT_COLUMNS) + "\n", encoding="utf-8-sig")


@router.get("/{review_id}", summary="一条送审记录")
def get_review(review_id: int, request: Request, user: User = Depends(require_drafter)) -> dict:
    review = services(request).store.reviews.get(review_id)
    if review is None or not (user.has_role("reviewer") or review.submitted_by == user.name):
        raise HTTPException(404, "找不到这条送审记录")
    return review.to_dict()


@router.post("/{review_id}/decision", summary="审核决定：接受、更正（选定其他事项）或驳回，附意见")
def decide(review_id: int, body: DecisionRequest, request: Request, user: User = Depends(require_reviewer)) -> dict:
    svc = services(request)
    review = svc.store.reviews.get(review_id)
    if review is None:
        raise HTTPException(404, "找不到这条送审记录")
    if review.status != "pending":
        raise HTTPException(409, f"这条记录已由 {review.reviewer} 于 {review.reviewed_at} 审核")
    final_id, final_name = "", ""
    if body.decision == "accept":
        # Accepting an out-of-list answer confirms that no entry fits: the final id stays empty.
        final_id, final_name = review.suggested_id, review.suggested_name
    elif body.decision == "correct":
        if not body.entry_id:
            raise HTTPException(422, "更正时需要选定事项（entry_id）")
        entry = svc.pool.catalog(review.catalog_version).get(body.entry_id.strip())
        if entry is None:
            raise HTTPException(422, f"清单版本 {review.catalog_version} 中没有序号为「{body.entry_id}」的事项")
        final_id, final_name = entry.id, entry.name
    decided = svc.store.reviews.decide(review_id, body.decision, final_id, final_name, user.name, body.comment.strip())
    if decided is None:
        raise HTTPException(409, "这条记录刚刚已被其他审核人处理")
    if final_id:
        # A confirmed mapping helps the very next query, before any retraining.
        svc.pool.learn(decided.catalog_version, final_id, decided.text)
    return {"review": decided.to_dict(), "counts": svc.store.reviews.counts(user.name)}
