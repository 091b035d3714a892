"""Bulk classification and merge jobs: upload, queue, poll progress, download results."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse

from api.auth import require_drafter
from api.job_store import Job
from api.jobs import capabilities, job_dir_for
from api.routes.common import services
from api.store import User
from api.uploads import check_table, receive_upload

router = APIRouter(prefix="/api/jobs", tags=["批量与归并任务"])

# Options a form or query may set; each job kind passes on the ones its function knows.
OPTION_FIELDS = (
    "text_col",
    "title_col",
    "date_col",
    "zombie_months",
    "fast",
    "chunk_rows",
    "report_format",
    "granularity",
    "target_groups",
)
_INT_OPTIONS = ("zombie_months", "chunk_rows", "target_groups")
_FLOAT_OPTIONS = ("granularity",)
_BOOL_OPTIONS = ("fast",)


def _options(values: dict[str, str]) -> dict:
    options: dict = {}
    for name in OPTION_FIELDS:
        raw = (values.get(name) or "").strip()
        if not raw:
            continue
        try:
            if name in _INT_OPTIONS:
                options[name] = int(raw)
            elif name in _FLOAT_OPTIONS:
                options[name] = float(raw)
            elif name in _BOOL_OPTIONS:
                options[name] = raw.lower() in ("1", "true", "yes", "on", "是")
            else:
                options[name] = raw
        except ValueError:
            raise HTTPException(422, f"参数 {name} 的值「{raw}」格式不对") from None
    if not 10 <= options.get("chunk_rows", 2000) <= 100_000:
        raise HTTPException(422, "chunk_rows 应在 10 到 100000 之间")
    if options.get("report_format", "md") not in ("md", "html"):
        raise HTTPException(422, "report_format 只能是 md 或 html")
    if not 0.0 <= options.get("granularity", 0.5) <= 1.0:
        raise HTTPException(422, "粒度应在 0（粗）到 1（细）之间")
    if options.get("target_groups", 1) < 1:
        raise HTTPException(422, "目标组数必须是正整数")
    return options


def safe_name(original: str, suffix: str) -> str:
    """The user's file name, made safe to keep on disk (reports and downloads then carry the name they know)."""
    stem = "".join(ch for ch in Path(original).stem if ch.isprintable() and ch not in '/\\:*?"<>|').strip(" .")
    return (stem[:80] or "上传文件") + suffix


def _visible_job(request: Request, job_id: int, user: User) -> Job:
    job = services(request).store.jobs.get(job_id)
    if job is None or not (job.owner == user.name or user.has_role("admin")):
        raise HTTPException(404, "找不到这个任务")
    return job


async def _submit(request: Request, kind: str, user: User, output_format: str) -> dict:
    svc = services(request)
    caps = capabilities()
    if not getattr(caps, kind):
        raise HTTPException(503, getattr(caps, f"{kind}_reason") or "该功能暂不可用")
    folder = await run_in_threadpool(job_dir_for, svc.settings)
    try:
        upload = await receive_upload(request, folder / "input", svc.settings.max_upload_mb << 20)
        await run_in_threadpool(check_table, upload.path, upload.kind)
        values = {**upload.fields, **dict(request.query_params)}
        options = _options(values)
        catalog = (values.get("catalog") or "").strip()
        version = await run_in_threadpool(svc.pool.resolve_version, catalog) if catalog else ""
        named = folder / safe_name(upload.original_name, upload.path.suffix)
        upload.path.rename(named)
        label = "匹配结果" if kind == "bulk" else "归并建议"
        output = folder / f"{named.stem}_{label}.{output_format if kind == 'bulk' else 'xlsx'}"
        job = await run_in_threadpool(
            svc.store.jobs.add, kind, user.name, upload.original_name, str(named), str(output), options, version
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    svc.jobs.wake()
    return job.to_dict()


@router.post("/bulk", summary="批量匹配：上传热线导出（CSV/XLSX），返回任务号")
async def submit_bulk(
    request: Request, output_format: Literal["xlsx", "csv"] = Query("xlsx"), user: User = Depends(require_drafter)
) -> dict:
    return await _submit(request, "bulk", user, output_format)


@router.post("/merge", summary="归并建议：上传原始事项清单（编号,内容），返回任务号")
async def submit_merge(request: Request, user: User = Depends(require_drafter)) -> dict:
    return await _submit(request, "merge", user, "xlsx")


@router.get("", summary="我的任务（管理员看到全部）")
def list_jobs(
    request: Request,
    kind: Literal["bulk", "merge"] | None = None,
    limit: int = Query(50, ge=1, le=500),
    user: User = Depends(require_drafter),
) -> dict:
    owner = None if user.has_role("admin") else user.name
    jobs = services(request).store.jobs.list(owner=owner, kind=kind, limit=limit)
    return {"jobs": [j.to_dict() for j in jobs], "capabilities": capabilities().to_dict()}


@router.get("/{job_id}", summary="任务进度：已处理 / 总行数 / 速度 / 预计剩余时间")
def get_job(job_id: int, request: Request, user: User = Depends(require_drafter)) -> dict:
    return _visible_job(request, job_id, user).to_dict()


@router.post("/{job_id}/cancel", summary="取消任务")
def cancel_job(job_id: int, request: Request, user: User = Depends(require_drafter)) -> dict:
    job = _visible_job(request, job_id, user)
    if job.finished:
        raise HTTPException(409, f"任务已{job.to_dict()['status_label']}，无需取消")
    return services(request).store.jobs.request_cancel(job_id).to_dict()


@router.get("/{job_id}/files/{name}", summary="下载任务结果文件（结果表、报告、图表），按文件名或序号")
def download(job_id: int, name: str, request: Request, user: User = Depends(require_drafter)) -> FileResponse:
    job = _visible_job(request, job_id, user)
    files = job.result.get("files", []) if job.status == "done" else []
    found = [f for f in files if f["name"] == name]
    if not found and name.isdigit() and int(name) < len(files):
        found = [files[int(name)]]
    if not found:
        raise HTTPException(404, "没有这个结果文件（任务可能尚未完成）")
    job_dir = Path(job.input_path).parent.resolve()
    path = (job_dir / found[0]["path"]).resolve()
    if not path.is_relative_to(job_dir) or not path.is_file():
        raise HTTPException(404, "结果文件已不存在")
    suffix = path.suffix.lower()
    inline = suffix in (".png", ".svg", ".json", ".html", ".md")
    headers = {}
    if suffix == ".html":
        # The report is shown in a frame on the page: images and inline styles only, never scripts.
        headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    media = "text/markdown; charset=utf-8" if suffix == ".md" else None
    return FileResponse(
        path,
        filename=path.name,
        media_type=media,
        headers=headers,
        content_disposition_type="inline" if inline else "attachment",
    )


@router.get("/{job_id}/groups", summary="归并任务的分组（供网页审阅）")
def merge_groups(job_id: int, request: Request, user: User = Depends(require_drafter)) -> FileResponse:
    job = _visible_job(request, job_id, user)
    path = Path(job.input_path).parent / "groups.json"
    if job.kind != "merge" or job.status != "done" or not path.is_file():
        raise HTTPException(404, "该任务没有分组结果（可能尚未完成）")
    return FileResponse(path, media_type="application/json")
