"""Problems found while importing a duty list, each pointing at the file, sheet, row and column a person can open."""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_REPORTED_PROBLEMS = 50


@dataclass(frozen=True)
class ImportProblem:
    file: str
    message: str
    sheet: str = ""
    row: int | None = None
    column: str = ""
    row_unit: str = "行"  # JSON entries are counted as 条, spreadsheet and CSV lines as 行

    @property
    def where(self) -> str:
        parts = [self.file]
        if self.sheet:
            parts.append(f" 工作表「{self.sheet}」")
        if self.row is not None:
            parts.append(f"{'' if self.sheet else ' '}第 {self.row} {self.row_unit}")
        if self.column:
            parts.append(f"「{self.column}」{'字段' if self.row_unit == '条' else '列'}")
        return "".join(parts)

    def __str__(self) -> str:
        return f"{self.where}：{self.message}"


@dataclass
class ProblemLog:
    """Collects problems so that one import reports all of them at once instead of the first only."""

    problems: list[ImportProblem] = field(default_factory=list)
    dropped: int = 0

    def add(self, problem: ImportProblem) -> None:
        if len(self.problems) < MAX_REPORTED_PROBLEMS:
            self.problems.append(problem)
        else:
            self.dropped += 1

    def __bool__(self) -> bool:
        return bool(self.problems)

    def __len__(self) -> int:
        return len(self.problems) + self.dropped


class CatalogImportError(ValueError):
    """The input was refused as a whole; `problems` says everything that is wrong with it."""

    def __init__(self, problems: list[ImportProblem], dropped: int = 0) -> None:
        self.problems = list(problems)
        self.dropped = dropped
        total = len(self.problems) + dropped
        lines = [f"清单导入失败，共发现 {total} 个问题，未导入任何内容："]
        lines += [f"  {p}" for p in self.problems]
        if dropped:
            lines.append(f"  ……另有 {dropped} 个问题未列出")
        super().__init__("\n".join(lines))

    @classmethod
    def from_log(cls, log: ProblemLog) -> CatalogImportError:
        return cls(log.problems, log.dropped)
