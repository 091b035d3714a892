"""Catalog versions: list, import a newly published list, browse and search entries, compare two versions."""

from __future__ import annotations

import secrets
import shutil

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from api.auth import require_admin
from api.catalog_diff import diff_catalogs
from api.routes.common import services
from api.store import User
from api.uploads import check_table, receive_upload
from corpus.import_errors import CatalogImportError
from corpus.importer import import_catalog
from corpus.schema import DutyEntry, ListType, parse_list_type

router = APIRouter(prefix="/api/catalogs", tags=["清单"])

MAX_SEARCH_RESULTS = 50


@router.get("", summary="清单版本列表（含服务当前使用的版本）")
def list_catalogs(request: Request) -> dict:
    svc = services(request)
    default = svc.pool.default_version
    rows = [dict(s.to_dict(), default=s.version == default) for s in svc.pool.catalog_store.list()]
    return {"default_version": default, "catalogs": rows}


@router.post("", summary="导入新发布的清单（CSV/XLSX/XLS/DOCX/JSON 上传；管理员）")
async def import_uploaded(
    request: Request, name: str = "", list_type: str = "", user: User = Depends(require_admin)
) -> JSONResponse:
    svc = services(request)
    folder = svc.settings.home / "uploads" / secrets.token_hex(8)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        upload = await receive_upload(
            request,
            folder / "catalog",
            svc.settings.max_upload_mb << 20,
            allowed=("csv", "xlsx", "xls", "json", "docx"),
        )
        await run_in_threadpool(check_table, upload.path, upload.kind)
        name = name or upload.fields.get("name", "") or upload.original_name.rsplit(".", 1)[0]
        type_text = list_type or upload.fields.get("list_type", "")
        parsed_type = parse_list_type(type_text) if type_text else None
        if type_text and parsed_type is None:
            raise HTTPException(422, f"无法识别的清单类型：{type_text}（可选 基本 / 配合 / 收回）")
        # The importer names problems by file name: give it the name the user knows.
        named = folder / upload.original_name.replace("/", "_")
        upload.path.rename(named)
        try:
            catalog = await run_in_threadpool(import_catalog, [named], name=name, list_type=parsed_type)
        except CatalogImportError as exc:
            return JSONResponse({"detail": str(exc), "problems": [str(p) for p in exc.problems]}, status_code=422)
        saved = await run_in_threadpool(svc.pool.catalog_store.save, catalog)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    counts = {t.value: sum(1 for e in saved.entries if e.list_type is t) for t in ListType}
    return JSONResponse(
        {
            "version": saved.version,
            "name": saved.name,
            "imported_at": saved.imported_at,
            "entries": len(saved),
            "counts": counts,
            "imported_by": user.name,
        }
    )


@router.get("/diff", summary="比较两个清单版本：新增、删除、更名、合并、拆分、内容修改")
def diff(
    request: Request, a: str = Query(..., description="旧版本"), b: str = Query(..., description="新版本")
) -> dict:
    pool = services(request).pool
    old, new = pool.catalog(a), pool.catalog(b)
    # With the model loaded, entries are also paired by meaning; the pool's passage memo makes a repeat cheap.
    result = diff_catalogs(old, new, pool.passages if pool.ready else None)
    result.update(
        a={"version": old.version, "name": old.name, "entries": len(old)},
        b={"version": new.version, "name": new.name, "entries": len(new)},
    )
    return result


def _entry_dict(entry: DutyEntry) -> dict:
    d = entry.to_dict()
    d.update(list_type_short=entry.list_type.short, reclaimed=entry.is_reclaimed, zombie=entry.is_zombie)
    return d


def _matches_query(entry: DutyEntry, words: list[str]) -> bool:
    hay = " ".join(
        (
            entry.id,
            entry.name,
            entry.category,
            entry.description,
            entry.department_duty,
            entry.office,
            entry.department,
            entry.reclaim_reason,
            *entry.aliases,
        )
    )
    return all(w in hay for w in words)


@router.get("/{version}/entries", summary="清单事项（可按关键词、清单类型筛选）；version 可写 current")
def entries(request: Request, version: str, q: str = "", list_type: str = "") -> dict:
    catalog = services(request).pool.catalog(None if version == "current" else version)
    wanted_type = parse_list_type(list_type) if list_type else None
    words = q.split()
    found = [
        e
        for e in catalog.entries
        if (wanted_type is None or e.list_type is wanted_type) and (not words or _matches_query(e, words))
    ]
    counts = {t.value: sum(1 for e in catalog.entries if e.list_type is t) for t in ListType}
    return {
        "version": catalog.version,
        "name": catalog.name,
        "total": len(catalog),
        "counts": counts,
        "entries": [_entry_dict(e) for e in found],
    }


@router.get("/{version}/search", summary="找事项：序号、名称包含的词，以及按意思相近（审核更正时用）")
async def search(
    request: Request,
    version: str,
    q: str = Query(..., min_length=1, max_length=200),
    limit: int = Query(10, ge=1, le=MAX_SEARCH_RESULTS),
) -> dict:
    svc = services(request)
    catalog = await run_in_threadpool(svc.pool.catalog, None if version == "current" else version)
    query = q.strip()
    exact = [e for e in catalog.entries if e.id == query]
    literal = [e for e in catalog.entries if e not in exact and query in e.name]
    found = exact + literal
    if len(found) < limit:
        # Words that are not in any name: rank by meaning with the lexical matcher (fast, no transformer call).
        matcher = await run_in_threadpool(svc.pool.get, catalog.version)
        match = (await run_in_threadpool(matcher.match, [query], limit, False))[0]
        found += [c.entry for c in match.candidates if c.entry not in found]
    return {"version": catalog.version, "entries": [_entry_dict(e) for e in found[:limit]]}
