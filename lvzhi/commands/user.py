"""`lvzhi user add|list|passwd`: accounts for the web workbench (the first admin is created here)."""

from __future__ import annotations

import argparse
import getpass
import sys

from lvzhi.config import Settings

ROLE_CHOICES = ("admin", "reviewer", "drafter")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("user", help="管理网页工作台的用户（起草人 drafter / 审核人 reviewer / 管理员 admin）")
    us = p.add_subparsers(dest="user_command", metavar="操作")
    add = us.add_parser("add", help="新增用户")
    add.add_argument("name", help="用户名")
    add.add_argument("--role", required=True, choices=ROLE_CHOICES, help="角色")
    add.add_argument("--password", help="密码（不填则交互输入；至少 8 个字符）")
    add.set_defaults(run=run_add)
    ls = us.add_parser("list", help="列出用户")
    ls.set_defaults(run=run_list)
    pw = us.add_parser("passwd", help="重设密码（同时使其已有登录失效）")
    pw.add_argument("name")
    pw.add_argument("--password", help="新密码（不填则交互输入）")
    pw.set_defaults(run=run_passwd)
    p.set_defaults(run=lambda a, s: (p.print_help(), 2)[1])


def _password(given: str | None) -> str:
    from api.auth import check_password_strength

    if given is None:
        if not sys.stdin.isatty():
            given = sys.stdin.readline().rstrip("\n")
        else:
            given = getpass.getpass("密码：")
            if getpass.getpass("再输入一次：") != given:
                raise ValueError("两次输入的密码不一致")
    check_password_strength(given)
    return given


def _store(settings: Settings):
    from api.db import DatabaseError
    from api.store import Store

    try:
        return Store.open(settings)
    except DatabaseError as exc:
        raise ValueError(str(exc)) from None


def run_add(args: argparse.Namespace, settings: Settings) -> int:
    from api.auth import hash_password

    password = _password(args.password)
    store = _store(settings)
    try:
        user = store.users.add(args.name, args.role, hash_password(password))
    finally:
        store.close()
    print(f"已新增用户「{user.name}」，角色：{user.role_label}（数据库：{store.db.description}）")
    return 0


def run_list(args: argparse.Namespace, settings: Settings) -> int:
    store = _store(settings)
    try:
        users = store.users.list()
    finally:
        store.close()
    if not users:
        print("还没有任何用户。用 `lvzhi user add 姓名 --role admin` 创建第一位管理员。")
    for u in users:
        print(f"{u.name}\t{u.role_label}\t{'启用' if u.active else '已停用'}\t{u.created_at}")
    return 0


def run_passwd(args: argparse.Namespace, settings: Settings) -> int:
    from api.auth import hash_password

    password = _password(args.password)
    store = _store(settings)
    try:
        changed = store.users.update(args.name, password_hash=hash_password(password))
    finally:
        store.close()
    if changed is None:
        raise ValueError(f"没有用户「{args.name}」")
    print(f"已重设「{changed.name}」的密码，原有登录已失效")
    return 0
