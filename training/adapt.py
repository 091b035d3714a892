"""The township-adapted default model: multilingual-e5-small taught our general township knowledge at first use.

Citizens and staff do not write in list words, and plain e5 does not know that 摆摊 is 占道经营 or that a 五保户 is
a 特困供养 case. The bundled concept lexicon (colloquial ↔ official wording) and the bundled reference list
(an entry's description ↔ its name) say exactly that, so the rebuilt e5 is fine-tuned on them once, with a fixed
seed, and kept in its own folder beside the base model. No labelled ticket is used: the tuning items stay free to
fit the fusion weights on, and the held-out items and the second township's list stay unseen.

The folder carries a manifest (base weights, training data hash, recipe version, its own weights' checksum)
checked on every use; anything missing or different rebuilds it, in a temporary folder swapped in by rename.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from corpus.catalogs import load_reference_catalog
from corpus.lexicon import Lexicon
from corpus.schema import Catalog
from lvzhi.config import BASE_MODEL
from models.e5_rebuild import (WEIGHTS_NAME, ChecksumCache, build_lock, ensure_default_model, read_manifest,
                               replace_dir, sha256_of)
from training.finetune import FinetuneConfig, finetune
from training.pairs import ContrastivePair, catalog_pairs, confusable_entries, data_hash, with_hard_negatives

ADAPTED_MODEL_DIRNAME = "multilingual-e5-small-township"
ADAPT_MANIFEST_NAME = "lvzhi-adaptation.json"
# Bump whenever the recipe below would train a different model from the same data.
RECIPE_VERSION = 1
COLLOQUIAL_PER_CONCEPT = 3  # the commonest sayings; taking all of them tripled the training time for a similar gain
OFFICIAL_PER_CONCEPT = 3
RECIPE = FinetuneConfig(epochs=1, batch_size=32, learning_rate=5e-5, seed=42, max_seq_length=128, progress=True)


@dataclass(frozen=True)
class AdaptationManifest:
    recipe: int
    base_weights_sha256: str
    data_hash: str
    weights_sha256: str
    pairs: int
    steps: int
    seconds: float


def lexicon_pairs(lexicon: Lexicon) -> list[ContrastivePair]:
    """Each concept's commonest colloquial sayings ↔ its official wording."""
    out = []
    for concept in lexicon.concepts.concepts:
        if not concept.official:
            continue
        official = "，".join(concept.official[:OFFICIAL_PER_CONCEPT])
        for phrase in concept.colloquial[:COLLOQUIAL_PER_CONCEPT]:
            if phrase and phrase not in concept.official:
                out.append(ContrastivePair(phrase, official, group=f"概念:{concept.key}", source="词表"))
    return out


def adaptation_pairs() -> tuple[list[ContrastivePair], Catalog, str]:
    """The training pairs (before hard negatives, which the base model picks deterministically), the list they
    come from, and a hash that changes exactly when they do."""
    catalog = load_reference_catalog()
    pairs = catalog_pairs(catalog) + lexicon_pairs(Lexicon.load())
    return pairs, catalog, data_hash(pairs, catalog)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _read(folder: Path) -> AdaptationManifest | None:
    try:
        return AdaptationManifest(**json.loads((folder / ADAPT_MANIFEST_NAME).read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def _is_current(folder: Path, base_sha256: str, digest: str, checksums: ChecksumCache | None = None) -> bool:
    manifest = _read(folder)
    digest_of = checksums.sha256 if checksums is not None else sha256_of
    return (manifest is not None and manifest.recipe == RECIPE_VERSION and manifest.data_hash == digest
            and manifest.base_weights_sha256 == base_sha256 and (folder / WEIGHTS_NAME).is_file()
            and digest_of(folder / WEIGHTS_NAME) == manifest.weights_sha256)


def ensure_adapted_model(models_dir: Path, report=_to_stderr) -> tuple[Path, str]:
    """A verified folder holding the township-adapted default model (trained here when missing or stale), and
    a checksum naming its weights and the data they were trained on."""
    from models.embedder import embedder_from_folder  # models/ loads what training/ builds, not the reverse

    models_dir = Path(models_dir)
    base_dir = ensure_default_model(models_dir)
    base_sha256 = read_manifest(base_dir).weights_sha256
    target = models_dir / ADAPTED_MODEL_DIRNAME
    pairs, catalog, digest = adaptation_pairs()
    with build_lock(models_dir):
        if not _is_current(target, base_sha256, digest, ChecksumCache.in_dir(models_dir)):
            report(f"首次使用：用内置概念词表与参考清单适配默认模型（{len(pairs)} 对；2 核约需数分钟，只做一次）……")
            base = embedder_from_folder(base_dir, BASE_MODEL)
            pairs = with_hard_negatives(pairs, catalog, confusable_entries(base, catalog))
            stats = finetune(base, pairs, RECIPE)
            work = Path(tempfile.mkdtemp(prefix=".adapt-", dir=models_dir))
            try:
                out = work / ADAPTED_MODEL_DIRNAME
                base.model.save(str(out))
                manifest = AdaptationManifest(RECIPE_VERSION, base_sha256, digest, sha256_of(out / WEIGHTS_NAME),
                                              stats.pairs, stats.steps, round(stats.seconds, 1))
                (out / ADAPT_MANIFEST_NAME).write_text(json.dumps(asdict(manifest), indent=2), encoding="utf-8")
                replace_dir(out, target)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            report(f"模型适配完成：{stats.steps} 步，{stats.seconds:.0f} 秒")
    manifest = _read(target)
    return target, hashlib.sha256(f"{manifest.weights_sha256}|{digest}".encode()).hexdigest()
