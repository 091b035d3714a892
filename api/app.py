"""The FastAPI application: JSON API under /api, the Chinese workbench pages, static files, OpenAPI at /docs."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles

from api.matchers import ModelNotReady
from api.request_errors import describe
from api.routes import catalogs, classify, jobs, pages, reviews, system, users
from api.services import Services
from api.uploads import UploadRejected
from corpus.import_errors import CatalogImportError
from corpus.store import CatalogNotFoundError
from corpus.tables import TableError
from lvzhi.config import Settings

STATIC_DIR = Path(__file__).resolve().parent / "static"


def create_app(settings: Settings, *, embedder: Any = None) -> FastAPI:
    """Build the app on `settings`. The database is opened and migrated here; the model loads when the app starts
    (in the background). `embedder` lets a caller that already holds the loaded model share it."""
    services = Services.create(settings, embedder=embedder)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        services.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="履职清单匹配服务",
        description="把工单、工作事项映射到乡镇（街道）履行职责事项清单；审核、批量处理、清单管理。",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.settings = settings
    for module in (system, classify, reviews, catalogs, jobs, users, pages):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    _add_error_handlers(app)
    logging.getLogger("lvzhi.api").setLevel(logging.INFO)
    return app


def _add_error_handlers(app: FastAPI) -> None:
    def handler(status: int):
        async def handle(request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)

        return handle

    @app.exception_handler(RequestValidationError)
    async def malformed_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Every endpoint: a body that is not JSON, a wrong-typed or missing field, a bad query or path parameter.
        return JSONResponse(describe(exc.errors()), status_code=422)

    @app.exception_handler(UploadRejected)
    async def upload_rejected(request: Request, exc: UploadRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code)

    app.add_exception_handler(ModelNotReady, handler(503))
    app.add_exception_handler(CatalogNotFoundError, handler(404))
    app.add_exception_handler(CatalogImportError, handler(422))
    app.add_exception_handler(TableError, handler(422))
