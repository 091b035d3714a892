"""Receiving user files safely: streamed to disk under a size cap, typed by their bytes, checked before parsing.

A file is refused (HTTP 413/415/422 with a Chinese message) when it is too big, is not what its name says, is an
XLSX whose zip would inflate to far more than it weighs (a zip bomb), or is a CSV with a cell too long to parse.
Nothing here reads a whole upload into memory.
"""

from __future__ import annotations

import codecs
import csv
import os
import urllib.parse
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from corpus.tables import detect_encoding

SNIFF = 1 << 16
MAX_FORM_FIELD_BYTES = 64 << 10
# XLSX: a normal sheet compresses 5-30x; a bomb compresses thousands of times.
MAX_MEMBER_RATIO = 100
RATIO_CHECK_ABOVE = 10 << 20  # small members may compress extremely well and still be harmless
MAX_UNZIPPED_BYTES = 4 << 30
MAX_SHARED_STRINGS_BYTES = 512 << 20  # openpyxl holds the shared strings in memory even in read-only mode
MAX_ZIP_MEMBERS = 10_000
# A CSV physical line may hold several cells; cap it at a few times the cell limit.
LINE_LIMIT_FACTOR = 4

KIND_SUFFIX = {"csv": ".csv", "xlsx": ".xlsx", "json": ".json", "docx": ".docx", "xls": ".xls"}
KIND_LABEL = {"csv": "CSV", "xlsx": "XLSX", "json": "JSON", "docx": "Word（DOCX）", "xls": "XLS"}
# Both are zip packages; the part that makes each what it is.
ZIP_MAIN_PART = {
    "xlsx": ("xl/workbook", "这个压缩文件不是 Excel 工作簿（缺少工作簿部件），请上传 .xlsx 文件"),
    "docx": ("word/document", "这个压缩文件不是 Word 文档（缺少正文部件），请上传 .docx 文件"),
}


class UploadRejected(Exception):
    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


@dataclass
class SavedUpload:
    path: Path
    original_name: str
    size: int
    kind: str
    fields: dict[str, str] = field(default_factory=dict)  # other form fields sent with a multipart upload


def _claimed_kind(name: str) -> str | None:
    suffix = Path(name).suffix.lower()
    return {
        ".csv": "csv",
        ".txt": "csv",
        ".tsv": "csv",
        ".xlsx": "xlsx",
        ".xlsm": "xlsx",
        ".json": "json",
        ".docx": "docx",
        ".xls": "xls",
    }.get(suffix)


def sniff_kind(head: bytes, claimed: str | None = None) -> str:
    """What the first bytes say the file is: xlsx, csv, json, or (named so) docx or xls — or why it is none."""
    if head.startswith(b"PK\x03\x04"):
        return "docx" if claimed == "docx" else "xlsx"  # the same zip signature; check_zip tells them apart
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        if claimed == "xls":
            return "xls"  # an Office binary named .xls; check_xls opens it to be sure
        raise UploadRejected(415, "这是旧版 Office 二进制文件（如 .doc），请另存为 .xlsx、.docx 或 .csv 后再上传")
    if head.startswith(
        (b"%PDF", b"\x7fELF", b"MZ", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"Rar!", b"\x1f\x8b", b"7z\xbc\xaf")
    ):
        raise UploadRejected(415, "文件内容不是表格（CSV/XLSX），请检查是否选错了文件")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise UploadRejected(415, "文件含有二进制内容（或为 UTF-16 编码），请另存为 UTF-8 或 GBK 编码的 CSV，或 XLSX")
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith((b"{", b"[")):
        return "json"
    cut = head.rfind(b"\n") if len(head) >= SNIFF else len(head)
    sample = head[: cut if cut > 0 else len(head)]
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            sample.decode(encoding)
            return "csv"
        except UnicodeDecodeError:
            continue
    raise UploadRejected(415, "无法识别文件编码（既不是 UTF-8 也不是 GBK），请另存为 UTF-8 编码的 CSV 或 XLSX")


def check_kind(head: bytes, original_name: str, allowed: tuple[str, ...]) -> str:
    claimed = _claimed_kind(original_name)
    kind = sniff_kind(head, claimed)
    if claimed and claimed != kind:
        raise UploadRejected(
            415,
            f"文件名「{original_name}」表明是 {KIND_LABEL[claimed]}，但内容是 {KIND_LABEL[kind]}；"
            "请确认文件没有被改过扩展名",
        )
    if kind not in allowed:
        wanted = "、".join(KIND_LABEL[k] for k in allowed)
        raise UploadRejected(415, f"这里只接受 {wanted} 文件（收到的是 {KIND_LABEL[kind]}）")
    return kind


def check_zip(path: Path, kind: str = "xlsx") -> None:
    """Refuse zip bombs, and zips that are not a workbook (or a Word document), from the central directory,
    before any XML is inflated."""
    label = KIND_LABEL[kind]
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadRejected(422, f"{label} 文件已损坏，无法打开（{exc}）") from None
    if len(infos) > MAX_ZIP_MEMBERS:
        raise UploadRejected(422, f"{label} 文件内部包含 {len(infos)} 个部件，超出正常文件范围，已拒绝")
    names = {i.filename for i in infos}
    main_part, not_it = ZIP_MAIN_PART[kind]
    if "[Content_Types].xml" not in names or not any(n.startswith(main_part) for n in names):
        raise UploadRejected(415, not_it)
    total = 0
    for info in infos:
        total += info.file_size
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_CHECK_ABOVE and ratio > MAX_MEMBER_RATIO:
            raise UploadRejected(
                422,
                f"{label} 文件中的「{info.filename}」解压后会膨胀 {ratio:.0f} 倍"
                f"（{info.file_size / 2**20:.0f} MB），疑似压缩炸弹，已拒绝",
            )
        if info.filename.endswith("sharedStrings.xml") and info.file_size > MAX_SHARED_STRINGS_BYTES:
            raise UploadRejected(
                422,
                f"XLSX 文件的共享文本部件解压后达 {info.file_size / 2**20:.0f} MB，超出处理能力，请改存为 CSV 后上传",
            )
    if total > MAX_UNZIPPED_BYTES:
        raise UploadRejected(
            422,
            f"{label} 文件解压后共 {total / 2**30:.1f} GB，超出上限 {MAX_UNZIPPED_BYTES / 2**30:.0f} GB；"
            "请拆分文件或改存为 CSV",
        )


def check_csv(path: Path) -> int:
    """Refuse a CSV with an over-long line or cell (the csv module's field limit); returns the data row count."""
    cell_limit = csv.field_size_limit()
    line_limit = cell_limit * LINE_LIMIT_FACTOR
    encoding = detect_encoding(path)

    def lines():
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        with open(path, "rb") as fh:
            number = 0
            # readline with a size bound: an endless line is cut off, never loaded whole.
            while raw := fh.readline(line_limit + 1):
                number += 1
                if len(raw) > line_limit:
                    raise UploadRejected(
                        422,
                        f"CSV 第 {number} 行超过 {line_limit} 字节（单元格过长），无法处理；"
                        "请检查文件是否完整、分隔符是否正确",
                    )
                yield decoder.decode(raw)
            if tail := decoder.decode(b"", final=True):
                yield tail

    reader = csv.reader(lines())
    rows = 0
    try:
        for _ in reader:
            rows += 1
    except csv.Error as exc:
        raise UploadRejected(
            422, f"CSV 第 {reader.line_num} 行无法解析：有单元格超过 {cell_limit} 个字符或引号不成对（{exc}）"
        ) from None
    return max(rows - 1, 0)


def check_xls(path: Path) -> None:
    """Open the workbook's directory (its sheets are read later, once, by whoever uses the file)."""
    import xlrd

    try:
        xlrd.open_workbook(str(path), on_demand=True).release_resources()
    except Exception as exc:  # xlrd raises many types for files that are not .xls
        raise UploadRejected(422, f"XLS 文件已损坏或不是 Excel 97-2003 工作簿（{type(exc).__name__}）") from None


def check_table(path: Path, kind: str) -> None:
    if kind in ZIP_MAIN_PART:
        check_zip(path, kind)
    elif kind == "xls":
        check_xls(path)
    elif kind == "csv":
        check_csv(path)


def _upload_name(request: Request) -> str:
    raw = request.query_params.get("filename") or request.headers.get("x-filename") or ""
    return Path(urllib.parse.unquote(raw)).name


class _DiskSink:
    """Bytes go straight to a file; crossing the cap aborts the upload."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.size = 0
        self.head = b""
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "wb")

    def write(self, data: bytes) -> None:
        self.size += len(data)
        if self.size > self.max_bytes:
            raise UploadRejected(413, f"文件超过上传上限 {self.max_bytes // 2**20} MB")
        if len(self.head) < SNIFF:
            self.head += data[: SNIFF - len(self.head)]
        self._fh.write(data)

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.flush()
            os.fsync(self._fh.fileno())
            self._fh.close()


async def _body(request: Request) -> AsyncIterator[bytes]:
    async for chunk in request.stream():
        if chunk:
            yield chunk


async def receive_upload(
    request: Request, dest_stem: Path, max_bytes: int, allowed: tuple[str, ...] = ("csv", "xlsx", "xls")
) -> SavedUpload:
    """Stream the request's file to `dest_stem` + the right suffix.

    Accepts either a raw body (file name in `?filename=` or an X-Filename header, URL-encoded) or
    multipart/form-data with one file part (other small fields are returned in `.fields`).
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes + MAX_FORM_FIELD_BYTES:
        raise UploadRejected(413, f"文件超过上传上限 {max_bytes // 2**20} MB")
    partial = dest_stem.with_suffix(".upload")
    sink = _DiskSink(partial, max_bytes)
    try:
        content_type, params = parse_options_header(request.headers.get("content-type", ""))
        if content_type == b"multipart/form-data":
            name, fields = await _receive_multipart(request, params.get(b"boundary", b""), sink)
        else:
            name, fields = _upload_name(request), {}
            async for chunk in _body(request):
                sink.write(chunk)
        await run_in_threadpool(sink.close)  # fsync of a large file must not stall the event loop
        if sink.size == 0:
            raise UploadRejected(422, "上传的文件是空的")
        kind = check_kind(sink.head, name or "", allowed)
        final = dest_stem.with_suffix(KIND_SUFFIX[kind])
        os.replace(partial, final)
        return SavedUpload(final, name or final.name, sink.size, kind, fields)
    except BaseException:
        sink.close()
        partial.unlink(missing_ok=True)
        raise


async def _receive_multipart(request: Request, boundary: bytes, sink: _DiskSink) -> tuple[str, dict[str, str]]:
    if not boundary:
        raise UploadRejected(400, "multipart 请求缺少 boundary")
    state = {
        "header_field": b"",
        "header_value": b"",
        "headers": {},
        "is_file": False,
        "name": "",
        "filename": None,
        "field": b"",
        "files": 0,
    }
    fields: dict[str, str] = {}
    filename_holder: list[str] = []

    def on_part_begin() -> None:
        state.update(headers={}, is_file=False, name="", filename=None, field=b"")

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["header_field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["header_value"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["header_field"].lower()] = state["header_value"]
        state["header_field"] = state["header_value"] = b""

    def on_headers_finished() -> None:
        _, opts = parse_options_header(state["headers"].get(b"content-disposition", b""))
        state["name"] = opts.get(b"name", b"").decode("utf-8", "replace")
        filename = opts.get(b"filename")
        if filename is not None:
            state["files"] += 1
            if state["files"] > 1:
                raise UploadRejected(400, "一次只能上传一个文件")
            state["is_file"] = True
            filename_holder.append(Path(filename.decode("utf-8", "replace")).name)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if state["is_file"]:
            sink.write(data[start:end])
        else:
            state["field"] += data[start:end]
            if len(state["field"]) > MAX_FORM_FIELD_BYTES:
                raise UploadRejected(413, f"表单字段「{state['name']}」过长")

    def on_part_end() -> None:
        if not state["is_file"] and state["name"]:
            fields[state["name"]] = state["field"].decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
        },
    )
    async for chunk in _body(request):
        parser.write(chunk)
    parser.finalize()
    if not filename_holder:
        raise UploadRejected(422, "请求中没有文件（表单字段名任意，需带文件名）")
    return filename_holder[0], fields
