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
            "会在首次使用时把随包附带的工单适配权重合并进去（数秒，只做一次）；在代码中请先调用 training.adapt.prepare_model(settings)。"
        )
    if ChecksumCache.in_dir(models_dir).sha256(folder / WEIGHTS_NAME) != manifest.weights_sha256:
        raise AdaptedModelMissing(
            f"默认模型 {DEFAULT_MODEL} 的权重与校验和不符（{folder}），文件可能已损坏。运行任一 lvzhi 命令会自动重新适配；"
            "在代码中请先调用 training.adapt.prepare_model(settings)。"
        )
    return folder, manifest.checksum


# The ticket-trained LoRA adapter that ships inside the package (python -m training.ship rebuilds it).
SHIPPED_ADAPTER_DIR = Path(__file__).resolve().parent / "shipped" / "ticket-lora"
SHIPPED_MANIFEST_NAME = "lvzhi-ship.json"
ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors"


@dataclass(frozen=True)
class ShippedAdapter:
    """What `python -m training.ship` wrote: the recipe and data it trained on, and the adapter's checksum."""

    recipe: int
    base_weights_sha256: str
    data_hash: str
    adapter_sha256: str
    pairs: int
    steps: int
    seconds: float
    device: str  # where it was trained ("cpu", or the GPU's name)
    seed: int


def read_shipped_adapter(folder: Path = SHIPPED_ADAPTER_DIR) -> ShippedAdapter | None:
    """The shipped adapter's manifest, or None when the folder holds none (a build without one)."""
    try:
        return ShippedAdapter(**json.loads((folder / SHIPPED_MANIFEST_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def write_shipped_adapter(folder: Path, manifest: ShippedAdapter) -> None:
    (folder / SHIPPED_MANIFEST_NAME).write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")


def verified_shipped_adapter(folder: Path = SHIPPED_ADAPTER_DIR) -> ShippedAdapter | None:
    """The shipped adapter's manifest after checking its weights' checksum; None when nothing is shipped.

    Raises AdaptedModelMissing when the weights do not match what the manifest recorded."""
    manifest = read_shipped_adapter(folder)
    if manifest is None:
        return None
    weights = folder / ADAPTER_WEIGHTS_NAME
    actual = hashlib.sha256(weights.read_bytes()).hexdigest() if weights.is_file() else "（文件缺失）"
    if actual != manifest.adapter_sha256:
        raise AdaptedModelMissing(
            f"随包附带的工单适配权重 {weights} 与校验和不符（应为 {manifest.adapter_sha256[:12]}…，实为 {actual[:12]}…），"
            "文件可能已损坏。请重新安装 lvzhi，或运行 `python -m training.ship` 重新训练。"
        )
    return manifest
