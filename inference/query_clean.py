"""Strip what a ticket carries besides its substance: hotline boilerplate, names, phone numbers, dates, house numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

BOILERPLATE_PATH = Path(__file__).resolve().parent.parent / "corpus" / "data" / "boilerplate.txt"

# Patterns that hold for any ticket, whatever the platform; the phrase list in boilerplate.txt adds wording.
_BUILTIN = [
    r"(?:(?:工单|受理|诉求|案件)(?:编号|单号|号)|编号|单号)[:：]?\s*[A-Za-z0-9\-]{4,}",
    r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d[- ]?\d{4}[- ]?\d{4}(?!\d)",  # mobile
    r"(?<!\d)0\d{2,3}[- ]?\d{7,8}(?!\d)",  # landline
    r"(?<!\d)\d{17}[\dXx](?!\d)",  # ID number
    r"(?:联系|来电)?(?:电话|号码|手机)[:：]?\s*[\d\-*xX]{5,}",
    r"\d{2,4}\s*年\s*\d{1,2}\s*月\s*\d{1,2}\s*[日号]",
    r"\d{4}\s*年\s*\d{1,2}\s*月份?",
    r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}",
    r"\d{1,2}\s*[:：]\s*\d{2}(?:\s*[:：]\s*\d{2})?",
    # Only surname + title: 保洁阿姨 or 门口大爷 are content, 王先生 is not.
    r"[王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤](?:先生|女士|小姐|师傅|阿姨|大爷|大妈|老师)",
    r"\d+\s*(?:栋|幢|号楼|单元|室|楼|层|号)",
    # Requests for action that close most tickets: 请相关部门尽快核实处理 / 望有关部门予以解决 / 要求回访.
    r"(?:恳请|烦请|希望|请求|要求|请|望)(?:上级|政府|镇上|镇里|街道|领导)?(?:相关|有关|职能|主管|属地)?(?:部门|领导|单位)"
    r"(?:尽快|及时|予以|帮忙|协调|认真|重视|核实|调查|解决|处理|落实|答复|回复|查处|一下|出面)*",
    r"(?:并|请|要求|希望)?(?:回复|回访|回电|答复)(?:市民|来电人|诉求人|群众)?(?:结果|处理结果)?(?=$|[，。！？,.!?\s])",
    r"【[^】]{0,10}】",
    r"[（(]\s*(?:电话|手机|联系方式)?\s*[)）]",
]

# Labels a platform puts in front of the substance: 工单内容：称，… / 市民来电：… / 反映：…
_LEADING = re.compile(
    r"^(?:\s|[，,:：。])*(?:工单内容|诉求内容|来电内容|问题描述|留言详情|留言内容|来电反映|市民来电|市民反映|网友留言|"
    r"来电人?称|反映人?称|诉求人?称|来电|反映|称)(?:\s|[，,:：])*"
)


@dataclass
class QueryCleaner:
    path: Path = BOILERPLATE_PATH
    _patterns: list[re.Pattern] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        phrases, regexes = [], list(_BUILTIN)
        if self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if line.startswith("re:"):
                    regexes.append(line[3:].strip())
                else:
                    phrases.append(re.escape(line))
        compiled = []
        for rx in regexes:
            try:
                compiled.append(re.compile(rx))
            except re.error:
                continue  # a bad line in the data file must not break matching
        if phrases:
            phrases.sort(key=len, reverse=True)
            compiled.append(re.compile("|".join(phrases)))
        self._patterns = compiled

    def clean(self, text: str) -> str:
        out = " ".join(str(text).split())
        for pattern in self._patterns:
            out = pattern.sub(" ", out)
        while (stripped := _LEADING.sub("", out, count=1)) != out:
            out = stripped
        out = re.sub(r"\s+", " ", out).strip(" ，。,.;；:：")
        # Never clean a text into nothing: a ticket that is all boilerplate is still matched on what it said.
        return out if len(out) >= 2 else " ".join(str(text).split())
