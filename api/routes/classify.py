"""POST /api/classify: the same answers as `lvzhi classify --json`, for one text or many."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from api.auth import optional_user
from api.routes.common import services
from api.store import User
from inference.matcher import Match, Matcher

router = APIRouter(prefix="/api", tags=["匹配"])

MAX_TEXTS = 1000
MAX_TEXT_CHARS = 20_000


class ClassifyRequest(BaseModel):
    text: str | None = Field(None, description="一条事项或工单描述")
    texts: list[str] | None = Field(None, description="多条描述（最多 1000 条）")
    catalog: str | None = Field(None, description="清单版本号或其前缀；不填用服务当前的清单")
    top_k: int | None = Field(None, ge=1, le=20, description="每条返回的候选数")

    model_config = {"json_schema_extra": {"examples": [{"text": "小区门口每晚有人摆摊卖烧烤，占用人行道"}]}}


def texts_of(body: ClassifyRequest) -> list[str]:
    if (body.text is None) == (body.texts is None):
        raise HTTPException(422, "请提供 text（一条）或 texts（多条）之一")
    texts = [body.text] if body.text is not None else list(body.texts or [])
    if not texts:
        raise HTTPException(422, "texts 不能为空")
    if len(texts) > MAX_TEXTS:
        raise HTTPException(413, f"一次最多匹配 {MAX_TEXTS} 条，请分批或使用批量任务")
    for i, text in enumerate(texts, start=1):
        if not text.strip():
            raise HTTPException(422, f"第 {i} 条文本为空")
        if len(text) > MAX_TEXT_CHARS:
            raise HTTPException(413, f"第 {i} 条文本超过 {MAX_TEXT_CHARS} 个字符")
    return texts


async def classify_texts(
    request: Request, texts: list[str], catalog: str | None, top_k: int | None
) -> tuple[Matcher, list[Match]]:
    svc = services(request)
    # Building a matcher for another catalog version can take a while: do it off the loop, outside the batcher.
    matcher = await run_in_threadpool(svc.pool.get, catalog)
    matches = await svc.batcher.classify(matcher, texts, top_k or svc.settings.top_k)
    return matcher, matches


def answer(matcher: Matcher, matches: list[Match]) -> dict:
    return {
        "catalog_version": matcher.catalog.version,
        "catalog_name": matcher.catalog.name,
        "model_version": matcher.embedder.identity if matcher.embedder is not None else "lexical",
        "results": [m.to_dict() for m in matches],
    }


@router.post("/classify", summary="匹配履职事项：返回与命令行 `lvzhi classify --json` 相同的结果")
async def classify(body: ClassifyRequest, request: Request, user: User | None = Depends(optional_user)) -> dict:
    if user is None and not services(request).settings.allow_anonymous_classify:
        raise HTTPException(401, "请先登录", headers={"WWW-Authenticate": "Bearer"})
    texts = texts_of(body)
    matcher, matches = await classify_texts(request, texts, body.catalog, body.top_k)
    return answer(matcher, matches)
