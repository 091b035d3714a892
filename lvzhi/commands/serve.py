"""`lvzhi serve`: the web workbench and JSON API (FastAPI + uvicorn)."""

from __future__ import annotations

import argparse

from lvzhi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="启动网页工作台与接口服务（默认 http://127.0.0.1:8000）")
    p.add_argument("--host", help="监听地址（默认 127.0.0.1；局域网共享用 0.0.0.0）")
    p.add_argument("--port", type=int, help="端口（默认 8000）")
    p.set_defaults(run=run, settings_overrides=lambda a: {"host": a.host, "port": a.port})


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from api.app import create_app
    from api.db import DatabaseError

    try:
        app = create_app(settings)
    except DatabaseError as exc:
        raise ValueError(str(exc)) from None
    db = app.state.services.store.db.description
    print(f"履职清单匹配工作台：http://{settings.host}:{settings.port}/    接口文档：/docs", flush=True)
    print(f"数据库：{db}；模型在后台加载，加载完成前页面可用、匹配请求会稍候。", flush=True)
    if not app.state.services.store.users.list():
        print("提示：还没有任何用户，请先运行 `lvzhi user add 姓名 --role admin` 创建管理员。", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info", timeout_graceful_shutdown=30)
    return 0
