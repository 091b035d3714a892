"""Uploads are refused cleanly when too big, of the wrong type, zip bombs, or CSVs with monstrous cells."""

from __future__ import annotations

import io
import select
import socket
import zipfile
from pathlib import Path

import openpyxl
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from lvzhi.config import Settings
from tests.api_fixtures import ThreadServer, add_users, bearer, private_home, wait_for

OTHER_CATALOG = Path(__file__).resolve().parent.parent / "corpus" / "data" / "other_township" / "catalog.csv"
CAP_MB = 1


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory, settings) -> Settings:
    home = private_home(tmp_path_factory.mktemp("upload-home"), settings)
    s = Settings(home=home, threads=settings.threads, max_upload_mb=CAP_MB)
    add_users(s)
    return s


@pytest.fixture(scope="module")
def app(app_settings, embedder):
    return create_app(app_settings, embedder=embedder)


@pytest.fixture(scope="module")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="module")
def admin(client):
    return bearer(client, "admin")


def import_catalog(client, admin, filename: str, content: bytes):
    return client.post("/api/catalogs", params={"filename": filename}, content=content, headers=admin)


def leftovers(settings: Settings) -> list[Path]:
    folders = [settings.home / "uploads", settings.jobs_dir]
    return [p for f in folders if f.exists() for p in f.rglob("*") if p.is_file()]


def xlsx_bytes(rows: list[list[str]]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


# -- accepted ------------------------------------------------------------------------------------------------------


def test_valid_csv_raw_and_xlsx_multipart_are_accepted(client, admin, app_settings):
    raw = import_catalog(client, admin, "东城清单.csv", OTHER_CATALOG.read_bytes())
    assert raw.status_code == 200, raw.text
    workbook = xlsx_bytes(
        [
            ["序号", "清单类型", "事项名称", "承办机构"],
            ["A1", "基本", "垃圾分类宣传", "城管办"],
            ["A2", "配合", "森林防火巡查", "应急办"],
        ]
    )
    multipart = client.post(
        "/api/catalogs", files={"file": ("小清单.xlsx", workbook)}, data={"name": "小清单"}, headers=admin
    )
    assert multipart.status_code == 200, multipart.text
    assert multipart.json()["name"] == "小清单" and multipart.json()["entries"] == 2
    assert not leftovers(app_settings)


# -- wrong type ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "filename,content,words",
    [
        ("清单.xlsx", "序号,事项名称\n1,垃圾分类\n".encode(), "内容是 CSV"),
        ("清单.csv", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "不是表格"),
        ("清单.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "另存为 .xlsx"),
        ("清单.csv", "序号,事项名称\n1,垃圾分类\n".encode("utf-16"), "UTF-16"),
        ("程序.exe", b"MZ\x90\x00\x03\x00\x00\x00", "不是表格"),
    ],
)
def test_type_is_checked_by_content(client, admin, app_settings, filename, content, words):
    reply = import_catalog(client, admin, filename, content)
    assert reply.status_code == 415, reply.text
    assert words in reply.json()["detail"]
    assert not leftovers(app_settings)


def test_a_zip_that_is_not_a_workbook_is_refused(client, admin):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hello")
    reply = import_catalog(client, admin, "清单.xlsx", buf.getvalue())
    assert reply.status_code == 415 and "不是 Excel 工作簿" in reply.json()["detail"]
    reply = import_catalog(client, admin, "清单.docx", buf.getvalue())
    assert reply.status_code == 415 and "不是 Word 文档" in reply.json()["detail"]


def test_word_list_is_imported_and_only_where_lists_are(client, admin, app_settings, tmp_path):
    from tests.test_catalog_import import write_docx

    content = write_docx(tmp_path / "白沙镇清单.docx").read_bytes()
    reply = import_catalog(client, admin, "白沙镇清单.docx", content)
    assert reply.status_code == 200, reply.text
    assert reply.json()["entries"] == 5 and reply.json()["counts"]["配合履职事项"] == 1
    bulk = client.post("/api/jobs/bulk", params={"filename": "白沙镇清单.docx"}, content=content, headers=admin)
    assert bulk.status_code == 415 and "只接受" in bulk.json()["detail"]
    assert not leftovers(app_settings)


def test_excel_97_list_is_imported_and_a_damaged_one_refused(client, admin, app_settings, tmp_path):
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("基本履职事项清单")
    for r, row in enumerate([["序号", "事项名称", "承办机构"], ["1", "垃圾分类宣传", "城管办"]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.save(str(tmp_path / "旧清单.xls"))
    reply = import_catalog(client, admin, "旧清单.xls", (tmp_path / "旧清单.xls").read_bytes())
    assert reply.status_code == 200, reply.text
    assert reply.json()["entries"] == 1
    damaged = import_catalog(client, admin, "坏清单.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)
    assert damaged.status_code == 422 and "XLS 文件已损坏" in damaged.json()["detail"]
    assert not leftovers(app_settings)


# -- zip bomb ------------------------------------------------------------------------------------------------------


def test_xlsx_zip_bomb_is_refused_before_parsing(client, admin, app_settings):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as member:
            block = b" " * (1 << 20)
            for _ in range(256):  # 256 MB of blanks: a few hundred KB once deflated
                member.write(block)
    payload = buf.getvalue()
    assert len(payload) < CAP_MB << 20  # small enough to pass the size cap: only the ratio check can stop it
    reply = import_catalog(client, admin, "清单.xlsx", payload)
    assert reply.status_code == 422, reply.text
    assert "压缩炸弹" in reply.json()["detail"]
    assert not leftovers(app_settings)


# -- CSV cells -----------------------------------------------------------------------------------------------------


def test_csv_with_a_ten_megabyte_cell_is_refused(app_settings, embedder, tmp_path):
    roomy = Settings(
        home=private_home(tmp_path / "roomy", Settings(home=app_settings.home)),
        max_upload_mb=64,
        threads=app_settings.threads,
    )
    add_users(roomy)
    with TestClient(create_app(roomy, embedder=embedder)) as c:
        headers = bearer(c, "admin")
        one_line = "序号,事项名称,事项内容\n1,垃圾分类," + "很" * (10 << 20) + "\n"
        reply = c.post(
            "/api/catalogs", params={"filename": "超长.csv"}, content=one_line.encode("utf-8"), headers=headers
        )
        assert reply.status_code == 422 and "第 2 行" in reply.json()["detail"], reply.text
        # The same size in one quoted cell over many short lines: caught by the csv field limit.
        many_lines = '序号,事项名称,事项内容\n1,垃圾分类,"' + ("很长的说明\n" * (2 << 20)) + '"\n'
        reply = c.post(
            "/api/catalogs", params={"filename": "多行.csv"}, content=many_lines.encode("utf-8"), headers=headers
        )
        assert reply.status_code == 422 and "单元格超过" in reply.json()["detail"], reply.text
        assert c.get("/api/health").status_code == 200
        assert not leftovers(roomy)


# -- size cap on a real socket ---------------------------------------------------------------------------------------


def push_until_answered(port: int, path: str, headers: list[str], total: int, chunked: bool) -> tuple[int, int]:
    """Send up to `total` body bytes, stopping as soon as the server answers; returns (status, bytes sent)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/octet-stream", *headers]
    head += ["Transfer-Encoding: chunked"] if chunked else [f"Content-Length: {total}"]
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("utf-8"))
    block = ("序号,事项名称\n" + "1,垃圾分类宣传\n" * 4000).encode("utf-8")[: 1 << 16]
    frame = (f"{len(block):x}\r\n".encode() + block + b"\r\n") if chunked else block
    sent = 0
    try:
        while sent < total:
            readable, writable, _ = select.select([sock], [sock], [], 30)
            if readable:
                break
            if writable:
                sock.sendall(frame)
                sent += len(block)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading: that is the point
    sock.settimeout(30)
    answer = b""
    try:
        while b"\r\n" not in answer:
            piece = sock.recv(4096)
            if not piece:
                break
            answer += piece
    except ConnectionResetError:
        pass
    sock.close()
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1") else 0
    return status, sent


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_two_gigabyte_upload_is_refused_without_reading_it(app, app_settings, client, admin, chunked):
    two_gb = 2 << 30
    with ThreadServer(app, lifespan="off") as server:
        status, sent = push_until_answered(
            server.port,
            "/api/jobs/bulk?filename=" + "big.csv",
            [f"Authorization: {admin['Authorization']}"],
            two_gb,
            chunked,
        )
    assert status == 413
    # Refused by the declared length at once, or by the byte count as the stream crossed the 1 MB cap.
    assert sent < 64 << 20
    if chunked:  # no declared length: the server counted the streamed bytes and stopped at the cap
        assert sent > CAP_MB << 20
    wait_for(lambda: not leftovers(app_settings), timeout=30, what="partial upload removed")
