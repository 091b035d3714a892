"""The township-adapted default model on disk: its folder, its manifest, and the check made before loading it.

training/adapt.py builds the folder (at first use, from bundled data); this module only finds and verifies it, so
that loading the default model never trains it. A missing or damaged folder is an error that says what to run.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from lvzhi.config import DEFAULT_MODEL
from models.e5_rebuild import WEIGHTS_NAME, ChecksumCache

ADAPTED_MODEL_DIRNAME = "multilingual-e5-small-township"
ADAPT_MANIFEST_NAME = "lvzhi-adaptation.json"


class AdaptedModelMissing(FileNotFoundError):
    """The adapted default model has not been built here yet (or its folder is damaged); the message says why."""


@dataclass(frozen=True)
class AdaptationManifest:
    recipe: int
    base_weights_sha256: str
    data_hash: str
    weights_sha256: str
    pairs: int
    steps: int
    seconds: float

    @property
    def checksum(self) -> str:
        """Names the weights and the data they were trained on (the model's identity uses its first characters)."""
        return hashlib.sha256(f"{self.weights_sha256}|{self.data_hash}".encode()).hexdigest()


def adapted_model_dir(models_dir: Path) -> Path:
    return Path(models_dir) / ADAPTED_MODEL_DIRNAME


def read_adaptation_manifest(folder: Path) -> AdaptationManifest | None:
    try:
        return AdaptationManifest(**json.loads((folder / ADAPT_MANIFEST_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_adaptation_manifest(folder: Path, manifest: AdaptationManifest) -> None:
    (folder / ADAPT_MANIFEST_NAME).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")


def verified_adapted_model(models_dir: Path) -> tuple[Path, str]:
    """The adapted default model's folder and checksum, after checking its weights against its manifest.

    Raises AdaptedModelMissing when the folder is absent or damaged: building it is training's job
    (training.adapt.prepare_model, which every `lvzhi` command and the web service run before loading).
    """
    folder = adapted_model_dir(models_dir)
    manifest = read_adaptation_manifest(folder)
    if manifest is None or not (folder / WEIGHTS_NAME).is_file():
        raise AdaptedModelMissing(
            f"默认模型 {DEFAULT_MODEL} 尚未在 {folder.parent} 下适配完成。运行任一 lvzhi 命令（如 `lvzhi classify 路灯坏了`）"
            "会在首次使用时自动适配（2 核约 2–3 分钟，只做一次）；在代码中请先调用 training.adapt.prepare_model(settings)。"
        )
    if ChecksumCache.in_dir(models_dir).sha256(folder / WEIGHTS_NAME) != manifest.weights_sha256:
        raise AdaptedModelMissing(
            f"默认模型 {DEFAULT_MODEL} 的权重与校验和不符（{folder}），文件可能已损坏。运行任一 lvzhi 命令会自动重新适配；"
            "在代码中请先调用 training.adapt.prepare_model(settings)。"
        )
    return folder, manifest.checksum
