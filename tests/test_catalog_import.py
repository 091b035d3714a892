"""Importing published duty lists from real CSV/XLSX/DOCX/JSON files and storing catalog versions."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import openpyxl
import pytest

from corpus.catalogs import REFERENCE_CATALOG_NAME, REFERENCE_CATALOG_PATH, load_reference_catalog, resolve_catalog
from corpus.importer import CatalogImportError, import_catalog
from corpus.schema import Catalog, DutyEntry, ListType
from corpus.store import CatalogNotFoundError, CatalogStore

HEADER = ["序号", "清单类型", "事项类别", "事项名称", "具体内容", "承办机构", "主责部门", "兜底事项", "收回原因"]
ROWS = [
    [
        "1",
        "基本履职事项",
        "党的建设",
        "加强基层党组织建设",
        "落实党建工作责任制",
        "党建工作办公室",
        "县委组织部",
        "是",
        "",
    ],
    [
        "2",
        "配合履职事项",
        "安全生产",
        "配合开展危险化学品安全检查",
        "配合县应急管理局开展检查",
        "应急管理办公室",
        "县应急管理局",
        "",
        "",
    ],
    ["3", "上级部门收回事项", "自然资源", "矿产资源开采监管", "", "", "县自然资源局", "否", "近三年未发生，属僵尸事项"],
]


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    lines = [",".join(f'"{c}"' if ("," in c or "\n" in c) else c for c in row) for row in rows]
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def write_xlsx(path: Path, sheets: dict[str, list[list]], merges: dict[str, list[str]] | None = None) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row if row else [None])
        for cell_range in (merges or {}).get(title, []):
            sheet.merge_cells(cell_range)
    workbook.save(path)
    return path


def refused(paths, **kwargs) -> CatalogImportError:
    with pytest.raises(CatalogImportError) as caught:
        import_catalog(paths, **kwargs)
    assert isinstance(caught.value, ValueError)
    assert caught.value.problems, "a refusal must say what is wrong"
    return caught.value


# --- CSV ---------------------------------------------------------------------------------------------


def test_csv_reads_every_field_with_decorated_headers(tmp_path):
    path = write_csv(
        tmp_path / "青石镇清单.csv",
        [
            [
                " 序 号 ",
                "清单类型",
                "事项类别",
                "事项名称（必填）",
                "具体内容",
                "承办机构",
                "主责部门",
                "是否兜底",
                "备注",
                "别名",
                "联系电话",
            ],
            [
                "1",
                "基本",
                "党的建设",
                "加强基层\n党组织建设",
                "第一项\n\n第二项",
                "党建办",
                "县委组织部",
                "√",
                "每年考核",
                "党建；组织建设、基层党建",
                "123",
            ],
            ["2", "收回", "自然资源", "矿产资源开采监管", "", "", "县自然资源局", "", "多年未发生", "", ""],
        ],
    )
    catalog = import_catalog([path])

    assert catalog.name == "青石镇清单"
    assert catalog.source == str(path)
    assert dt.datetime.fromisoformat(catalog.imported_at).utcoffset() == dt.timedelta(0)
    basic, reclaimed = catalog.entries
    assert basic == DutyEntry(
        id="1",
        name="加强基层党组织建设",
        list_type=ListType.BASIC,
        category="党的建设",
        description="第一项\n第二项",
        office="党建办",
        department="县委组织部",
        bottom_line=True,
        reclaim_reason="",
        aliases=("党建", "组织建设", "基层党建"),
    )
    # 备注 is only a reclaim reason on 收回 entries.
    assert reclaimed.list_type is ListType.RECLAIMED
    assert reclaimed.reclaim_reason == "多年未发生"
    assert reclaimed.is_zombie
    assert not reclaimed.bottom_line


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gbk", "gb18030"])
def test_bom_and_gbk_files_import_exactly_like_utf8(tmp_path, encoding):
    plain = import_catalog([write_csv(tmp_path / "清单.csv", [HEADER, *ROWS])])
    other_dir = tmp_path / encoding
    other_dir.mkdir()
    other = import_catalog([write_csv(other_dir / "清单.csv", [HEADER, *ROWS], encoding)])
    assert other.entries == plain.entries
    assert other.version == plain.version
    assert [e.list_type for e in other.entries] == [ListType.BASIC, ListType.COOPERATE, ListType.RECLAIMED]


def test_tab_separated_utf16_export_from_excel_is_read(tmp_path):
    path = tmp_path / "导出.txt"
    path.write_bytes("\r\n".join("\t".join(row) for row in [HEADER, *ROWS]).encode("utf-16"))
    assert [e.name for e in import_catalog([path]).entries] == [row[3] for row in ROWS]


def test_gbk_file_with_undecodable_bytes_names_file_and_line(tmp_path):
    data = "\r\n".join(",".join(r) for r in [HEADER, *ROWS]).encode("gbk").split(b"\r\n")
    data[2] = data[2] + b"\xff\xff"
    path = tmp_path / "坏编码.csv"
    path.write_bytes(b"\r\n".join(data))
    error = refused([path])
    assert error.problems[0].row == 3
    assert str(error.problems[0]).startswith("坏编码.csv 第 3 行：")
    assert "编码" in str(error)


def test_damaged_utf8_file_is_refused_rather_than_read_as_gbk_mojibake(tmp_path):
    lines = "\n".join(",".join(r) for r in [HEADER, *ROWS]).encode("utf-8").split(b"\n")
    lines[3] = lines[3].replace("矿产".encode(), b"\xe7\x9f")  # a cut multibyte character
    path = tmp_path / "损坏.csv"
    path.write_bytes(b"\n".join(lines))
    error = refused([path])
    assert [(p.file, p.row) for p in error.problems] == [("损坏.csv", 4)]


def test_title_row_above_header_in_csv_names_the_list_type(tmp_path):
    path = write_csv(
        tmp_path / "导出.csv",
        [
            ["青石镇配合履职事项清单", "", ""],
            ["", "", ""],
            ["序号", "事项名称", "牵头部门"],
            ["1", "配合开展人口普查", "县统计局"],
        ],
    )
    (entry,) = import_catalog([path]).entries
    assert (entry.list_type, entry.department, entry.id) == (ListType.COOPERATE, "县统计局", "1")


# --- XLSX --------------------------------------------------------------------------------------------


def published_workbook(path: Path) -> Path:
    """Three sheets, one per list, each with a merged title row and its own numbering from 1."""
    columns = ["序号", "事项类别", "事项名称", "具体内容", "承办机构", "主责部门", "兜底事项"]
    return write_xlsx(
        path,
        {
            "基本履职事项清单": [
                ["青石镇基本履职事项清单"],
                columns,
                [1, "党的建设", "加强基层党组织建设", "落实党建责任", "党建办", "县委组织部", "是"],
                [2, None, "发展党员", "做好党员发展", "党建办", "县委组织部", "是"],
                [3, "平安建设", "矛盾纠纷排查化解", "排查化解矛盾纠纷", "综治中心", "县委政法委", None],
            ],
            "配合履职事项清单": [
                ["青石镇配合履职事项清单"],
                columns[:3] + ["配合部门"],
                [1, "安全生产", "配合开展危化品检查", "县应急管理局"],
                [2, "生态环境", "配合开展秸秆禁烧巡查", "市生态环境局青石分局"],
            ],
            "上级部门收回事项清单": [
                ["青石镇上级部门收回事项清单"],
                ["序号", "事项名称", "收回部门", "备注"],
                [1, "矿产资源开采监管", "县自然资源局", "长期未发生的僵尸事项"],
            ],
            "空白页": [],
        },
        merges={
            "基本履职事项清单": ["A1:G1", "B3:B4"],
            "配合履职事项清单": ["A1:D1"],
            "上级部门收回事项清单": ["A1:D1"],
        },
    )


def test_xlsx_with_a_sheet_per_list_title_rows_and_per_sheet_numbering(tmp_path):
    catalog = import_catalog([published_workbook(tmp_path / "青石镇清单.xlsx")])

    assert [e.id for e in catalog.entries] == ["基本-1", "基本-2", "基本-3", "配合-1", "配合-2", "收回-1"]
    assert [e.list_type.short for e in catalog.entries] == ["基本"] * 3 + ["配合"] * 2 + ["收回"]
    # The category merged down two rows belongs to both of them.
    assert catalog.get("基本-2").category == "党的建设"
    assert catalog.get("基本-2").bottom_line and not catalog.get("基本-3").bottom_line
    assert catalog.get("配合-2").department == "市生态环境局青石分局"
    zombie = catalog.get("收回-1")
    assert zombie.reclaim_reason == "长期未发生的僵尸事项" and zombie.is_zombie


def test_section_rows_category_headings_notes_and_repeated_headers_in_one_sheet(tmp_path):
    path = write_xlsx(
        tmp_path / "清单.xlsx",
        {
            "Sheet1": [
                ["青石镇履行职责事项清单（基本履职事项、配合履职事项）"],
                ["序号", "事项名称", "具体内容"],
                ["一、基本履职事项（共2项）"],
                ["（一）党的建设（共1项）"],
                [1, "加强基层党组织建设", "落实党建责任"],
                ["（二）平安建设"],
                [2, "矛盾纠纷排查化解", "排查化解"],
                ["序号", "事项名称", "具体内容"],
                ["二、配合履职事项（共1项）"],
                [3, "配合开展人口普查", "入户登记"],
                ["注：兜底事项共14类53项。"],
            ],
        },
        merges={"Sheet1": ["A1:C1", "A3:C3", "A4:C4", "A6:C6", "A9:C9", "A11:C11"]},
    )
    catalog = import_catalog([path])

    assert [(e.id, e.list_type, e.category) for e in catalog.entries] == [
        ("1", ListType.BASIC, "党的建设"),
        ("2", ListType.BASIC, "平安建设"),
        ("3", ListType.COOPERATE, ""),
    ]


def test_two_row_header_with_merged_name_cell(tmp_path):
    path = write_xlsx(
        tmp_path / "配合履职事项清单.xlsx",
        {
            "清单": [
                ["序号", "事项名称", "县级部门", None],
                [None, None, "主责部门", "配合部门"],
                [1, "配合开展防汛抗旱", "县水利局", "县应急管理局"],
            ],
        },
        merges={"清单": ["A1:A2", "B1:B2", "C1:D1"]},
    )
    (entry,) = import_catalog([path]).entries
    assert (entry.id, entry.name, entry.department) == ("1", "配合开展防汛抗旱", "县水利局")


def test_item_merged_over_several_content_rows_is_one_entry(tmp_path):
    path = write_xlsx(
        tmp_path / "基本履职事项清单.xlsx",
        {
            "清单": [
                ["序号", "事项名称", "具体内容"],
                [1, "安全生产监管", "开展日常检查"],
                [None, None, "组织应急演练"],
                [2, "矛盾纠纷排查化解", "排查化解"],
            ],
        },
        merges={"清单": ["A2:A3", "B2:B3"]},
    )
    catalog = import_catalog([path])
    assert [(e.id, e.description) for e in catalog.entries] == [
        ("1", "开展日常检查\n组织应急演练"),
        ("2", "排查化解"),
    ]


def test_headers_worded_freely_are_read_by_their_words(tmp_path):
    basic = write_xlsx(
        tmp_path / "白沙镇清单.xlsx",
        {
            "基本履职事项": [
                ["白沙镇履职事项"],  # a title that ends like a header word is not the header
                ["序号", "一级事项", "职责事项", "具体工作事项", "承办科室（站所）", "履职依据"],
                [1, "党的建设", "基层党组织建设", "指导村党组织换届", "党建办", "《中国共产党章程》"],
                [2, None, "党员发展", "按程序发展党员", "党建办", ""],
                [3, "平安建设", "矛盾纠纷排查化解", "组织排查化解", "综治中心", ""],
            ],
        },
        merges={"基本履职事项": ["A1:F1"]},
    )
    cooperate = write_csv(
        tmp_path / "白沙镇配合履职事项清单.csv",
        [
            [
                "序号",
                "事项名称",
                "县级部门职责",
                "乡镇（街道）配合职责",
                "县级牵头部门（主责部门）",
                "乡镇（街道）承办科室",
            ],
            ["1", "秸秆禁烧", "组织执法检查", "开展巡查劝导", "县生态环境局", "生态环保办"],
        ],
    )
    catalog = import_catalog([basic, cooperate])

    by_name = {e.name: e for e in catalog.entries}
    assert list(by_name) == ["基层党组织建设", "党员发展", "矛盾纠纷排查化解", "秸秆禁烧"]
    party = by_name["基层党组织建设"]
    assert (party.list_type, party.category, party.description, party.office) == (
        ListType.BASIC,
        "党的建设",
        "指导村党组织换届",
        "党建办",
    )
    assert "章程" not in party.text  # the legal-basis column is not part of the entry
    assert by_name["党员发展"].category == "党的建设"  # the merged category cell, blank below its first row
    straw = by_name["秸秆禁烧"]
    assert (straw.list_type, straw.description, straw.department, straw.office) == (
        ListType.COOPERATE,
        "开展巡查劝导",
        "县生态环境局",
        "生态环保办",
    )
    # The county department's part of the shared duty is kept beside the township's, and matched on.
    assert straw.department_duty == "组织执法检查"
    assert straw.text == "秸秆禁烧：开展巡查劝导；组织执法检查"
    assert by_name["党员发展"].department_duty == ""


def test_category_name_and_section_office_headers(tmp_path):
    # County lists call a township's offices 股室; 类别名称 names the category, not the duty.
    path = write_csv(
        tmp_path / "基本履职事项清单.csv",
        [
            ["序号", "类别名称", "事项名称", "具体内容", "责任股室"],
            ["1", "生态环保", "秸秆禁烧", "开展巡查劝导", "生态环保股"],
        ],
    )
    entry = import_catalog([path]).entries[0]
    assert (entry.category, entry.name, entry.office) == ("生态环保", "秸秆禁烧", "生态环保股")


def test_bottom_line_and_note_columns_worded_freely(tmp_path):
    path = write_csv(
        tmp_path / "上级部门收回事项清单.csv",
        [
            ["序号", "履行职责事项", "是否为兜底事项", "备注说明"],
            ["1", "林木采伐许可证核发", "否", "专业性强，由县林业局承担"],
            ["2", "森林防灭火", "是", ""],
        ],
    )
    entries = import_catalog([path]).entries
    assert [(e.name, e.bottom_line, e.description, e.reclaim_reason) for e in entries] == [
        ("林木采伐许可证核发", False, "", "专业性强，由县林业局承担"),
        ("森林防灭火", True, "", ""),
    ]


def test_blank_category_carries_down_within_a_section_only(tmp_path):
    path = write_csv(
        tmp_path / "清单.csv",
        [
            ["序号", "清单类型", "事项类别", "事项名称"],
            ["1", "基本履职事项", "党的建设", "基层党组织建设"],
            ["2", "基本履职事项", "", "党员发展"],
            ["二、配合履职事项"],
            ["3", "配合履职事项", "", "配合开展人口普查"],
        ],
    )
    assert [e.category for e in import_catalog([path]).entries] == ["党的建设", "党的建设", ""]


def test_two_row_header_saved_as_csv_and_numbered_names(tmp_path):
    path = write_csv(
        tmp_path / "配合履职事项清单.csv",
        [
            ["序号", "事项名称", "职责边界", "", "承办科室"],
            ["", "", "县级部门职责", "乡镇（街道）职责", ""],
            ["1", "1.秸秆禁烧", "组织执法检查", "开展巡查劝导", "生态环保办"],
            ["2", "（二）燃气安全检查", "组织检查", "配合检查", "应急办"],
            ["3", "12345热线工单办理配合", "", "按时办理转办工单", "党政办"],
        ],
    )
    catalog = import_catalog([path])
    assert [(e.name, e.description, e.department_duty, e.office) for e in catalog.entries] == [
        ("秸秆禁烧", "开展巡查劝导", "组织执法检查", "生态环保办"),
        ("燃气安全检查", "配合检查", "组织检查", "应急办"),
        # digits without a separator are the name's own; with the county cell empty nothing is put in its place
        ("12345热线工单办理配合", "按时办理转办工单", "", "党政办"),
    ]


def test_bottom_line_marked_in_name_or_note(tmp_path):
    path = write_csv(
        tmp_path / "基本履职事项清单.csv",
        [
            ["序号", "事项名称", "备注"],
            ["1", "防汛防台工作★", ""],
            ["2", "2.森林防灭火（兜底事项）", ""],
            ["3", "最低生活保障审核", "兜底事项"],
            ["4", "文明村镇创建", "非兜底事项"],
            ["5", "政务公开", ""],
        ],
    )
    catalog = import_catalog([path])
    assert [(e.name, e.bottom_line) for e in catalog.entries] == [
        ("防汛防台工作", True),
        ("森林防灭火", True),
        ("最低生活保障审核", True),
        ("文明村镇创建", False),
        ("政务公开", False),
    ]


def test_duty_column_named_like_content_when_no_name_column(tmp_path):
    path = write_csv(
        tmp_path / "乡镇职责任务清单（基本履职事项）.csv",
        [
            ["序号", "类别", "职责任务", "具体事项", "责任科室"],
            ["1", "基层党建", "基层党组织建设", "指导村党组织换届", "党建办"],
        ],
    )
    (entry,) = import_catalog([path]).entries
    assert (entry.category, entry.name, entry.description, entry.office) == (
        "基层党建",
        "基层党组织建设",
        "指导村党组织换届",
        "党建办",
    )


def write_docx(path: Path) -> Path:
    """A list as townships publish it in Word: titles as paragraphs, a table per list, a page-break split."""
    import docx

    document = docx.Document()
    document.add_paragraph("白沙镇履行职责事项清单")
    document.add_paragraph("附件1：基本履职事项清单")
    basic = document.add_table(rows=4, cols=4)
    for i, row in enumerate(
        [
            ["序号", "事项类别", "事项名称", "具体内容"],
            ["1", "党的建设", "基层党组织建设", "指导村党组织换届"],
            ["2", "", "党员发展", "按程序发展党员"],
            ["3", "平安建设", "矛盾纠纷排查化解", "组织排查化解"],
        ]
    ):
        for j, value in enumerate(row):
            basic.cell(i, j).text = value
    basic.cell(1, 1).merge(basic.cell(2, 1))  # the category merged down over its two items
    rest = document.add_table(rows=1, cols=4)  # the same table continued after a page break, without a header
    for j, value in enumerate(["4", "平安建设", "社区矫正配合", "协助开展社区矫正"]):
        rest.cell(0, j).text = value
    document.add_paragraph("附件2：配合履职事项清单")
    cooperate = document.add_table(rows=3, cols=3)
    for i, row in enumerate(
        [["序号", "事项名称", "县级牵头部门（主责部门）"], ["一、生态环保", "", ""], ["1", "秸秆禁烧", "县生态环境局"]]
    ):
        for j, value in enumerate(row):
            cooperate.cell(i, j).text = value
    cooperate.cell(1, 0).merge(cooperate.cell(1, 2))  # a section heading across the table
    document.save(path)
    return path


def test_word_document_tables_are_lists(tmp_path):
    catalog = import_catalog([write_docx(tmp_path / "白沙镇清单.docx")])
    assert [(e.id, e.list_type, e.category, e.name, e.department) for e in catalog.entries] == [
        ("基本-1", ListType.BASIC, "党的建设", "基层党组织建设", ""),
        ("基本-2", ListType.BASIC, "党的建设", "党员发展", ""),
        ("基本-3", ListType.BASIC, "平安建设", "矛盾纠纷排查化解", ""),
        ("基本-4", ListType.BASIC, "平安建设", "社区矫正配合", ""),
        ("配合-1", ListType.COOPERATE, "生态环保", "秸秆禁烧", "县生态环境局"),
    ]


def test_excel_97_workbook_with_merged_category(tmp_path):
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("配合履职事项清单")
    for r, row in enumerate(
        [
            ["白沙镇配合履职事项清单"],
            ["序号", "事项类别", "事项名称", "主责部门"],
            [1, None, "秸秆禁烧", "县生态环境局"],
            [2, None, "河湖巡查", "县水利局"],
        ]
    ):
        for c, value in enumerate(row):
            if value is not None:
                sheet.write(r, c, value)
    sheet.write_merge(2, 3, 1, 1, "生态环保")
    book.save(str(tmp_path / "白沙镇.xls"))
    catalog = import_catalog([tmp_path / "白沙镇.xls"])
    assert [(e.id, e.list_type, e.category, e.name, e.department) for e in catalog.entries] == [
        ("1", ListType.COOPERATE, "生态环保", "秸秆禁烧", "县生态环境局"),
        ("2", ListType.COOPERATE, "生态环保", "河湖巡查", "县水利局"),
    ]


# --- JSON --------------------------------------------------------------------------------------------


def test_json_list_with_chinese_keys_and_entries_object_with_english_keys(tmp_path):
    chinese = tmp_path / "基本.json"
    chinese.write_text(
        json.dumps(
            [
                {
                    "编号": "J1",
                    "清单类型": "基本履职事项",
                    "事项名称": "加强基层党组织建设",
                    "兜底事项": "是",
                    "别名": "党建|组织建设",
                },
                {"事项名称": "发展党员"},
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    english = tmp_path / "cooperate_items.json"
    english.write_text(
        json.dumps(
            {
                "list_type": "配合履职事项",
                "entries": [
                    {"id": 7, "name": "配合开展人口普查", "bottom_line": True, "aliases": ["人口普查"], "extra": 1}
                ],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )

    catalog = import_catalog([chinese, english], name="合并清单")

    assert catalog.name == "合并清单"
    assert [(e.id, e.list_type, e.bottom_line, e.aliases) for e in catalog.entries] == [
        ("J1", ListType.BASIC, True, ("党建", "组织建设")),
        ("基本-002", ListType.BASIC, False, ()),
        ("7", ListType.COOPERATE, True, ("人口普查",)),
    ]


def test_county_part_of_a_shared_duty_from_json_survives_export(tmp_path):
    path = tmp_path / "配合履职事项.json"
    path.write_text(
        json.dumps(
            [
                {
                    "序号": 1,
                    "事项名称": "违法用地查处",
                    "县级部门职责": "查处未经批准占用耕地建房行为",
                    "乡镇（街道）配合职责": "开展日常巡查，发现后及时制止并报告",
                },
                {
                    "序号": 2,
                    "事项名称": "人口普查",
                    "县级部门职责": "组织实施普查",
                },  # only the county's part: it describes
            ],
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    catalog = import_catalog([path])
    assert [(e.description, e.department_duty) for e in catalog.entries] == [
        ("开展日常巡查，发现后及时制止并报告", "查处未经批准占用耕地建房行为"),
        ("组织实施普查", ""),
    ]
    exported = tmp_path / "导出.json"
    exported.write_text(json.dumps(catalog.to_dict(), ensure_ascii=False), encoding="utf-8")
    assert import_catalog([exported]).entries == catalog.entries
    # Entries without it serialise as before, so lists imported earlier keep their version and indexes.
    assert "department_duty" not in catalog.entries[1].to_dict()


def test_exported_catalog_json_reimports_to_the_same_version(tmp_path):
    original = import_catalog([published_workbook(tmp_path / "清单.xlsx")], name="原清单")
    exported = tmp_path / "导出.json"
    exported.write_text(json.dumps(original.to_dict(), ensure_ascii=False), encoding="utf-8")
    again = import_catalog([exported])
    assert again.entries == original.entries
    assert again.version == original.version
    assert again.name == "原清单"


# --- ids, list types and versions ---------------------------------------------------------------------


def test_missing_ids_are_generated_stably_per_list(tmp_path):
    path = write_csv(
        tmp_path / "无编号.csv",
        [
            ["清单类型", "事项名称"],
            ["基本", "甲事项"],
            ["配合", "乙事项"],
            ["基本", "丙事项"],
        ],
    )
    first = import_catalog([path])
    second = import_catalog([path], name="换个名字")
    assert [e.id for e in first.entries] == ["基本-001", "配合-001", "基本-002"]
    assert [e.id for e in second.entries] == [e.id for e in first.entries]
    # The version is the content only: neither the import time nor the name changes it.
    assert second.version == first.version
    assert Catalog(name="x", entries=first.entries, imported_at="2000-01-01T00:00:00+00:00").version == first.version


def test_changed_content_changes_the_version(tmp_path):
    first = import_catalog([write_csv(tmp_path / "a.csv", [HEADER, *ROWS])])
    changed_rows = [ROWS[0][:4] + ["改过的内容"] + ROWS[0][5:], *ROWS[1:]]
    second = import_catalog([write_csv(tmp_path / "b.csv", [HEADER, *changed_rows])])
    assert second.version != first.version


def test_list_type_comes_from_file_name_before_the_argument(tmp_path):
    columns = [["序号", "事项名称"], ["1", "配合开展人口普查"]]
    named = write_csv(tmp_path / "配合履职事项清单.csv", columns)
    plain = write_csv(tmp_path / "清单.csv", columns)
    assert import_catalog([named], list_type=ListType.BASIC).entries[0].list_type is ListType.COOPERATE
    assert import_catalog([plain], list_type=ListType.RECLAIMED).entries[0].list_type is ListType.RECLAIMED


# --- refusals ------------------------------------------------------------------------------------------


def test_empty_name_names_file_sheet_row_and_column(tmp_path):
    path = tmp_path / "清单.xlsx"
    write_xlsx(
        path,
        {
            "配合履职事项清单": [
                ["青石镇配合履职事项清单"],
                ["序号", "事项名称", "配合部门"],
                [1, "配合开展人口普查", "县统计局"],
                [2, None, "县应急管理局"],
            ],
        },
    )
    error = refused([path])
    assert [str(p) for p in error.problems] == [
        "清单.xlsx 工作表「配合履职事项清单」第 4 行「事项名称」列：事项名称为空"
    ]
    assert "未导入任何内容" in str(error)


def test_duplicate_id_within_one_list_is_refused(tmp_path):
    path = write_xlsx(
        tmp_path / "清单.xlsx",
        {
            "基本履职事项清单": [["编号", "事项名称"], ["A1", "甲事项"], ["A2", "乙事项"], ["A1", "丙事项"]],
        },
    )
    (problem,) = refused([path]).problems
    assert (problem.sheet, problem.row, problem.column) == ("基本履职事项清单", 4, "编号")
    assert (
        str(problem)
        == "清单.xlsx 工作表「基本履职事项清单」第 4 行「编号」列：编号「A1」在基本履职事项中重复（第 2 行已使用）"
    )


def test_unknown_list_type_and_unreadable_bottom_line_are_both_reported(tmp_path):
    path = write_csv(
        tmp_path / "清单.csv",
        [
            ["序号", "清单类型", "事项名称", "兜底事项"],
            ["1", "基本履职事项", "甲事项", "是"],
            ["2", "临时事项", "乙事项", ""],
            ["3", "配合履职事项", "丙事项", "待定"],
        ],
    )
    problems = [str(p) for p in refused([path]).problems]
    assert problems[0].startswith("清单.csv 第 3 行「清单类型」列：无法识别的清单类型「临时事项」")
    assert problems[1].startswith("清单.csv 第 4 行「兜底事项」列：无法识别「待定」")


def test_csv_row_cut_by_an_unquoted_comma_is_refused_with_the_spilled_cells(tmp_path):
    path = write_csv(
        tmp_path / "清单.csv",
        [
            ["事项名称", "清单类型", "具体内容", "主责部门", ""],
            ["集镇市容管理", "基本履职事项", "负责集镇市容巡查", "县城管局", ""],  # a trailing empty cell is harmless
            ["违法建设巡查", "基本履职事项", "发现", "制止和上报违法建设", "县住建局"],
        ],
    )
    (problem,) = refused([path]).problems
    assert problem.row == 3 and "第 5 列起没有表头" in str(problem) and "「县住建局」" in str(problem)
    # A column the export left unnamed, filled on most rows, is not a shift.
    unnamed = write_csv(
        tmp_path / "无名列.csv",
        [["事项名称", "清单类型"], ["甲事项", "基本履职事项", "2025 新增"], ["乙事项", "基本履职事项", "沿用"]],
    )
    assert len(import_catalog([unnamed]).entries) == 2
    # A worksheet may keep a note beside its table: that is not a shifted row.
    book = write_xlsx(
        tmp_path / "清单.xlsx",
        {"基本履职事项清单": [["事项名称", "具体内容"], ["集镇市容管理", "负责集镇市容巡查", "（备注：2025 年新增）"]]},
    )
    assert [e.name for e in import_catalog([book]).entries] == ["集镇市容管理"]


def test_undecided_list_type_names_file_row_and_column(tmp_path):
    path = write_csv(tmp_path / "事项.csv", [["序号", "事项名称"], ["1", "甲事项"], ["2", "乙事项"]])
    (problem,) = refused([path]).problems
    assert str(problem).startswith("事项.csv 第 2 行「清单类型」列：无法确定清单类型（共 2 行）")
    assert "--list-type" in problem.message


def test_sheet_without_recognisable_header_is_refused(tmp_path):
    path = write_xlsx(
        tmp_path / "清单.xlsx",
        {
            "基本履职事项清单": [["序号", "事项名称"], [1, "甲事项"]],
            "其他": [["项目", "金额"], ["办公经费", 100]],
        },
    )
    (problem,) = refused([path]).problems
    assert (problem.file, problem.sheet) == ("清单.xlsx", "其他")
    assert "找不到表头" in str(problem)


@pytest.mark.parametrize(
    "file_name, expected",
    [
        ("清单.doc", "另存为 .docx"),
        ("清单.pdf", "PDF"),
        ("坏清单.xls", "无法打开 XLS"),
        ("坏清单.docx", "无法打开 DOCX"),
    ],
)
def test_unsupported_file_types_are_refused(tmp_path, file_name, expected):
    path = tmp_path / file_name
    path.write_bytes(b"PK\x03\x04 not really")
    (problem,) = refused([path]).problems
    assert problem.file == file_name and expected in problem.message


def test_empty_files_are_refused(tmp_path):
    empty_csv = tmp_path / "空.csv"
    empty_csv.write_bytes(b"\r\n  \r\n")
    empty_xlsx = write_xlsx(tmp_path / "空.xlsx", {"Sheet1": []})
    empty_json = tmp_path / "空.json"
    empty_json.write_text("[]", encoding="utf-8")
    header_only = write_csv(tmp_path / "表头.csv", [HEADER])

    error = refused([empty_csv, empty_xlsx, empty_json, header_only])
    assert [(p.file, p.message) for p in error.problems] == [
        ("空.csv", "文件为空"),
        ("空.xlsx", "文件为空：所有工作表都没有内容"),
        ("空.json", "没有任何事项：只有表头，或所有工作表都是空的"),
        ("表头.csv", "没有任何事项：只有表头，或所有工作表都是空的"),
    ]


def test_problems_from_all_files_are_collected_and_nothing_is_imported(tmp_path):
    good = write_csv(tmp_path / "好.csv", [HEADER, *ROWS])
    bad_json = tmp_path / "坏.json"
    bad_json.write_text('[{"name": "甲"},\n {"name": ""}]', encoding="utf-8")
    missing = tmp_path / "不存在.csv"
    error = refused([good, bad_json, missing], list_type=ListType.BASIC)
    assert [str(p) for p in error.problems] == [
        "坏.json 第 2 条「name」字段：事项名称为空",
        f"不存在.csv：文件不存在：{missing}",
    ]


def test_problem_list_is_capped_but_counts_the_rest(tmp_path):
    rows = [["序号", "事项名称"]] + [[str(i), ""] for i in range(1, 61)]
    error = refused([write_csv(tmp_path / "基本履职事项清单.csv", rows)])
    assert len(error.problems) == 50
    assert error.dropped == 10
    assert "另有 10 个问题未列出" in str(error)


# --- store ----------------------------------------------------------------------------------------------


def small_catalog(tmp_path: Path, name: str, label: str) -> Catalog:
    path = write_csv(tmp_path / f"{label}.csv", [["事项名称", "清单类型"], [name, "基本"], ["配合事项", "配合"]])
    return import_catalog([path])


def test_store_save_list_load_and_prefix(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    assert store.list() == [] and store.latest() is None

    workbook = import_catalog([published_workbook(tmp_path / "清单.xlsx")], name="青石镇清单")
    saved = store.save(workbook)
    assert (tmp_path / "catalogs" / f"{workbook.version}.json").is_file()
    assert not [p for p in (tmp_path / "catalogs").iterdir() if p.suffix != ".json"]

    (summary,) = store.list()
    assert (summary.version, summary.name, summary.entries) == (workbook.version, "青石镇清单", 6)
    assert summary.counts == {"基本履职事项": 3, "配合履职事项": 2, "上级部门收回事项": 1}

    loaded = store.load(workbook.version[:5])
    assert loaded.entries == workbook.entries
    assert (loaded.name, loaded.imported_at, loaded.source) == (saved.name, saved.imported_at, saved.source)
    assert store.latest().version == workbook.version


def test_saving_the_same_content_again_keeps_the_first_import_time(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    first = small_catalog(tmp_path, "甲事项", "first")
    store.save(Catalog(name=first.name, entries=first.entries, imported_at="2024-01-01T00:00:00+00:00"))
    again = store.save(Catalog(name="再导入", entries=first.entries, imported_at="2025-06-01T00:00:00+00:00"))
    assert again.imported_at == "2024-01-01T00:00:00+00:00"
    assert [s.imported_at for s in store.list()] == ["2024-01-01T00:00:00+00:00"]


def test_store_errors_are_clear(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    versions = []
    for i in range(40):  # enough distinct versions that two share a first hex digit
        catalog = small_catalog(tmp_path, f"事项{i}", f"c{i}")
        store.save(Catalog(name=catalog.name, entries=catalog.entries, imported_at=f"2024-01-01T00:00:{i:02d}+00:00"))
        versions.append(catalog.version)
    shared = next(v[0] for v in versions if sum(w[0] == v[0] for w in versions) > 1)

    with pytest.raises(CatalogNotFoundError, match="不唯一"):
        store.load(shared)
    with pytest.raises(CatalogNotFoundError, match="找不到清单版本"):
        store.load("f" * 12 if "f" * 12 not in versions else "0" * 12)
    with pytest.raises(CatalogNotFoundError, match="不是清单版本号"):
        store.load("../etc")
    assert store.latest().version == versions[-1]
    assert [s.version for s in store.list()] == versions

    tampered = store.path_for(versions[0])
    data = json.loads(tampered.read_text(encoding="utf-8"))
    data["entries"][0]["name"] = "被改过"
    tampered.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ValueError, match="可能被改动过"):
        store.load(versions[0])


# --- choosing a catalog ---------------------------------------------------------------------------------


def test_resolve_catalog_takes_a_file_or_a_stored_version(tmp_path):
    store = CatalogStore(tmp_path / "catalogs")
    path = write_csv(tmp_path / "清单.csv", [HEADER, *ROWS])
    from_file = resolve_catalog(str(path), store)
    assert from_file.name == "清单" and len(from_file) == 3

    store.save(from_file)
    assert resolve_catalog(from_file.version[:6], store).entries == from_file.entries
    with pytest.raises(CatalogNotFoundError, match="找不到清单文件"):
        resolve_catalog(str(tmp_path / "没有.csv"), store)
    with pytest.raises(CatalogNotFoundError, match="既不是存在的清单文件"):
        resolve_catalog("青石镇", store)


@pytest.mark.skipif(not REFERENCE_CATALOG_PATH.is_file(), reason="reference catalog not written yet")
def test_reference_catalog_loads():
    catalog = load_reference_catalog()
    assert catalog.name == REFERENCE_CATALOG_NAME
    assert len(catalog) > 0
    assert len({e.id for e in catalog.entries}) == len(catalog)
    assert resolve_catalog("", CatalogStore(Path("/nonexistent"))).version == catalog.version
