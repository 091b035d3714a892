"""The township-adapted default model: multilingual-e5-small taught the job, merged or trained at first use.

The package ships a LoRA adapter trained on the ticket corpus, the concept lexicon and the reference list
(models/shipped/ticket-lora, rebuilt by `python -m training.ship`). At first use it is merged into the rebuilt e5
in seconds. When no adapter ships, or it was trained on different base weights, the older recipe below runs
instead: a short fine-tune on the lexicon and the reference list alone.

Citizens and staff do not write in list words, and plain e5 does not know that 摆摊 is 占道经营 or that a 五保户 is
a 特困供养 case. The bundled concept lexicon (colloquial ↔ official wording) and the bundled reference list
(an entry's description ↔ its name) say exactly that, so the rebuilt e5 is fine-tuned on them once, with a fixed
seed, and kept in its own folder beside the base model. No labelled ticket is used: the tuning items stay free to
fit the fusion weights on, and the held-out items and the second township's list stay unseen.

The folder (models/adapted.py) carries a manifest (base weights, training data hash, recipe version, its own weights'
checksum). `prepare_model` checks it before every load and rebuilds anything missing or different, in a temporary
folder swapped in by rename; loading (models/embedder.py) only verifies it and never trains.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from corpus.catalogs import load_reference_catalog
from corpus.lexicon import Lexicon
from corpus.schema import Catalog
from lvzhi.config import BASE_MODEL, DEFAULT_MODEL, Settings
from models.adapted import (
    ADAPTED_MODEL_DIRNAME,
    SHIPPED_ADAPTER_DIR,
    AdaptationManifest,
    ShippedAdapter,
    adapted_model_dir,
    read_adaptation_manifest,
    verified_shipped_adapter,
    write_adaptation_manifest,
)
from models.e5_rebuild import (
    WEIGHTS_NAME,
    ChecksumCache,
    build_lock,
    ensure_default_model,
    read_manifest,
    replace_dir,
    sha256_of,
)
from models.embedder import embedder_from_folder
from training.finetune import FinetuneConfig, finetune
from training.pairs import ContrastivePair, catalog_pairs, confusable_entries, data_hash, with_hard_negatives

# Bump whenever the recipe below would train a different model from the same data.
RECIPE_VERSION = 1
# A merged shipped adapter records this plus the adapter's own recipe version, so the two never collide.
MERGED_RECIPE_BASE = 1000
COLLOQUIAL_PER_CONCEPT = 3  # the commonest sayings; taking all of them tripled the training time for a similar gain
OFFICIAL_PER_CONCEPT = 3
RECIPE = FinetuneConfig(epochs=1, batch_size=32, learning_rate=5e-5, seed=42, max_seq_length=128, progress=True)


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


def _is_current(
    folder: Path, base_sha256: str, digest: str, checksums: ChecksumCache | None = None, recipe: int = RECIPE_VERSION
) -> bool:
    manifest = read_adaptation_manifest(folder)
    digest_of = checksums.sha256 if checksums is not None else sha256_of
    return (
        manifest is not None
        and manifest.recipe == recipe
        and manifest.data_hash == digest
        and manifest.base_weights_sha256 == base_sha256
        and (folder / WEIGHTS_NAME).is_file()
        and digest_of(folder / WEIGHTS_NAME) == manifest.weights_sha256
    )


def _swap_in(models_dir: Path, build: Callable[[Path], AdaptationManifest]) -> None:
    """Build the adapted model into a temporary folder with `build` (which returns its manifest), then rename it
    into place, so a crash never leaves a half-written model where a loader would find it."""
    work = Path(tempfile.mkdtemp(prefix=".adapt-", dir=models_dir))
    try:
        out = work / ADAPTED_MODEL_DIRNAME
        write_adaptation_manifest(out, build(out))
        replace_dir(out, adapted_model_dir(models_dir))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ensure_adapted_model(models_dir: Path, report=_to_stderr) -> tuple[Path, str]:
    """A verified folder holding the township-adapted default model (merged or trained here when missing or
    stale), and a checksum naming its weights and the data they were trained on."""
    models_dir = Path(models_dir)
    base_dir = ensure_default_model(models_dir)
    base_sha256 = read_manifest(base_dir).weights_sha256
    target = adapted_model_dir(models_dir)
    checksums = ChecksumCache.in_dir(models_dir)
    shipped = verified_shipped_adapter()
    if shipped is not None and shipped.base_weights_sha256 == base_sha256:
        recipe = MERGED_RECIPE_BASE + shipped.recipe
        with build_lock(models_dir):
            if not _is_current(target, base_sha256, shipped.data_hash, checksums, recipe):
                report("首次使用：把随包附带的工单适配权重合并进默认模型（数秒，只做一次）……")
                _swap_in(models_dir, lambda out: _merge_shipped(base_dir, out, shipped, recipe))
        return target, read_adaptation_manifest(target).checksum

    pairs, catalog, digest = adaptation_pairs()
    with build_lock(models_dir):
        if not _is_current(target, base_sha256, digest, checksums):
            report(f"首次使用：用内置概念词表与参考清单适配默认模型（{len(pairs)} 对；2 核约需数分钟，只做一次）……")
            base = embedder_from_folder(base_dir, BASE_MODEL)
            pairs = with_hard_negatives(pairs, catalog, confusable_entries(base, catalog))
            stats = finetune(base, pairs, RECIPE)

            def save(out: Path) -> AdaptationManifest:
                base.model.save(str(out))
                weights = sha256_of(out / WEIGHTS_NAME)
                seconds = round(stats.seconds, 1)
                return AdaptationManifest(
                    RECIPE_VERSION, base_sha256, digest, weights, stats.pairs, stats.steps, seconds
                )

            _swap_in(models_dir, save)
            report(f"模型适配完成：{stats.steps} 步，{stats.seconds:.0f} 秒")
    return target, read_adaptation_manifest(target).checksum


def _merge_shipped(base_dir: Path, out: Path, shipped: ShippedAdapter, recipe: int) -> AdaptationManifest:
    from training.ticket_encoder import merge_adapter  # imported here: it loads peft

    started = time.monotonic()
    merge_adapter(base_dir, SHIPPED_ADAPTER_DIR, out)
    return AdaptationManifest(
        recipe,
        shipped.base_weights_sha256,
        shipped.data_hash,
        sha256_of(out / WEIGHTS_NAME),
        shipped.pairs,
        shipped.steps,
        round(time.monotonic() - started, 1),
    )


def prepare_model(settings: Settings, report=_to_stderr) -> None:
    """The step before loading settings.model: the adapted default model is trained here at first use (and again
    when its bundled data or recipe changed); any other model needs nothing. The `lvzhi` commands and the web
    service call this; models.embedder.load_embedder itself never trains and refuses a missing adapted model."""
    if settings.model == DEFAULT_MODEL:
        ensure_adapted_model(settings.models_dir, report)
