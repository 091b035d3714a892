"""Rebuilds the shipped ticket-trained adapter (models/shipped/ticket-lora) from the repository's data.

    python -m training.ship            # CPU, 2 cores: about 33 minutes
    python -m training.ship --device cuda

The data are the training corpus's in-list tickets against their entries' texts, plus the concept lexicon and the
reference list's own sayings (training/adapt.py). The evaluation sets are never read. The run is seeded; the
manifest records the data hash, the base weights it was trained on, the adapter's checksum, and how long it took
where. Loading checks that checksum (models/adapted.py) and merges the adapter into e5 at first use.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import torch

from corpus.catalogs import load_reference_catalog
from corpus.training_corpus import load_training_corpus
from lvzhi.config import BASE_MODEL, Settings, load_settings
from models.adapted import ADAPTER_WEIGHTS_NAME, SHIPPED_ADAPTER_DIR, ShippedAdapter, write_shipped_adapter
from models.e5_rebuild import ensure_default_model, read_manifest, sha256_of
from models.embedder import embedder_from_folder
from training.adapt import adaptation_pairs
from training.pairs import ContrastivePair, corpus_pairs, data_hash
from training.ticket_encoder import LoraRecipe, train_adapter

RECIPE = LoraRecipe()


def shipping_pairs() -> tuple[list[ContrastivePair], str]:
    """Every pair the shipped adapter trains on, and the hash naming them (and the list they point into)."""
    catalog = load_reference_catalog()
    general, _, _ = adaptation_pairs()
    pairs = corpus_pairs(load_training_corpus(), catalog) + general
    return pairs, data_hash(pairs, catalog)


def ship(out_dir: Path, settings: Settings, recipe: LoraRecipe = RECIPE, device: str = "cpu") -> ShippedAdapter:
    """Train the adapter on the rebuilt e5 and write it, with its manifest, to out_dir (replaced atomically)."""
    base_dir = ensure_default_model(settings.models_dir)
    embedder = embedder_from_folder(base_dir, BASE_MODEL)
    embedder.model.to(device)
    pairs, digest = shipping_pairs()
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".ship-", dir=out_dir.parent))
    try:
        staged = work / out_dir.name
        stats = train_adapter(embedder, pairs, recipe, staged)
        for extra in staged.glob("README.md"):  # peft writes a model-card template; ours says nothing it does not
            extra.unlink()
        manifest = ShippedAdapter(
            recipe=recipe.version,
            base_weights_sha256=read_manifest(base_dir).weights_sha256,
            data_hash=digest,
            adapter_sha256=sha256_of(staged / ADAPTER_WEIGHTS_NAME),
            pairs=stats.pairs,
            steps=stats.steps,
            seconds=stats.seconds,
            device=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu",
            seed=recipe.seed,
        )
        write_shipped_adapter(staged, manifest)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staged.rename(out_dir)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.ship", description="重新训练随包附带的工单适配权重（LoRA）"
    )
    parser.add_argument("--out", type=Path, default=SHIPPED_ADAPTER_DIR, help="输出目录（默认即随包目录）")
    parser.add_argument("--device", default="cpu", help="cpu 或 cuda（有 GPU 时）")
    parser.add_argument("--epochs", type=float, default=RECIPE.epochs, help=f"训练轮数（默认 {RECIPE.epochs:g}）")
    args = parser.parse_args(argv)
    manifest = ship(args.out, load_settings(), replace(RECIPE, epochs=args.epochs), args.device)
    print(
        f"已写入 {args.out}：{manifest.pairs} 对，{manifest.steps} 步，{manifest.seconds:.0f} 秒（{manifest.device}），"
        f"数据指纹 {manifest.data_hash}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
