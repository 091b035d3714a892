"""The ticket-trained encoder: a LoRA adapter on the rebuilt e5, trained with sentence-transformers' Trainer.

Each ticket of the training corpus is pulled towards its entry's text and away from every other entry in its batch
(MultipleNegativesRankingLoss); the batch sampler keeps one entry's tickets apart, so in-batch negatives are real
negatives. Adding a confusable entry of the same list as a hard negative was tried and not kept
(docs/experiments.md). LoRA (`peft`) trains a few hundred thousand numbers instead of 118 million, so what the repository ships
is a few megabytes, and merging it into the rebuilt weights at first use takes seconds (training/adapt.py).
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from training.pairs import ContrastivePair

if TYPE_CHECKING:
    from models.embedder import Embedder

# The attention projections and both feed-forward layers of every block (XLM-R names them so in transformers).
LORA_TARGETS = ("query", "key", "value", "dense")


@dataclass(frozen=True)
class LoraRecipe:
    """Everything that decides the adapter besides its data. Bump `version` whenever a change here would train a
    different adapter from the same pairs."""

    version: int = 2
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    learning_rate: float = 3e-4
    batch_size: int = 32
    epochs: float = 2.0
    warmup_ratio: float = 0.1
    # Most tickets are under 60 characters; an entry's text is cut at its name and the start of its description,
    # which carry its meaning. Shorter inputs are what make a CPU run take tens of minutes rather than hours.
    max_seq_length: int = 64
    scale: float = 20.0
    seed: int = 42


@dataclass(frozen=True)
class AdapterStats:
    pairs: int
    steps: int
    seconds: float
    first_loss: float
    last_loss: float


def training_rows(pairs: list[ContrastivePair], embedder: Embedder):
    """The pairs as a `datasets.Dataset` of prefixed (anchor, positive) texts, the form the Trainer reads."""
    from datasets import Dataset  # imported here: `datasets` takes seconds to import and only training needs it

    return Dataset.from_dict(
        {
            "anchor": [embedder.query_prefix + p.anchor for p in pairs],
            "positive": [embedder.passage_prefix + p.positive for p in pairs],
        }
    )


def train_adapter(embedder: Embedder, pairs: list[ContrastivePair], recipe: LoraRecipe, out_dir: Path) -> AdapterStats:
    """Train a LoRA adapter on embedder.model (which it leaves wrapped, adapter active, in eval mode) and save
    the adapter alone to out_dir."""
    from peft import LoraConfig, get_peft_model
    from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments

    try:  # where sentence-transformers 6 keeps it; the old path still works there but warns
        from sentence_transformers.base.sampler import BatchSamplers
    except ImportError:  # pragma: no cover - depends on the installed release
        from sentence_transformers.training_args import BatchSamplers

    try:  # sentence-transformers >= 6 moved the losses; older releases keep them here
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # pragma: no cover - depends on the installed release
        from sentence_transformers.losses import MultipleNegativesRankingLoss

    if not pairs:
        raise ValueError("没有可用于训练的样本")
    torch.manual_seed(recipe.seed)
    model = embedder.model
    kept_max_length = model.max_seq_length
    model.max_seq_length = recipe.max_seq_length
    transformer = model[0]
    config = LoraConfig(
        r=recipe.rank,
        lora_alpha=recipe.alpha,
        lora_dropout=recipe.dropout,
        target_modules=list(LORA_TARGETS),
        bias="none",
    )
    # Wrapping the inner transformer keeps the sentence-transformers model (pooling, normalisation) as it is.
    transformer.model = get_peft_model(transformer.model, config)
    rows = training_rows(pairs, embedder)
    # The Trainer insists on an output folder of its own; nothing in it is kept.
    with tempfile.TemporaryDirectory(prefix="lvzhi-trainer-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=str(scratch),
            num_train_epochs=recipe.epochs,
            per_device_train_batch_size=recipe.batch_size,
            learning_rate=recipe.learning_rate,
            warmup_steps=recipe.warmup_ratio,  # transformers 5 reads a fraction below 1 as a share of the steps
            lr_scheduler_type="linear",
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            seed=recipe.seed,
            data_seed=recipe.seed,
            save_strategy="no",
            logging_steps=10,
            report_to=[],
            use_cpu=not torch.cuda.is_available(),
            dataloader_num_workers=0,
            disable_tqdm=False,
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=args,
            train_dataset=rows,
            loss=MultipleNegativesRankingLoss(model, scale=recipe.scale),
        )
        started = time.monotonic()
        trainer.train()
        seconds = time.monotonic() - started
    losses = [float(entry["loss"]) for entry in trainer.state.log_history if "loss" in entry]
    model.eval()
    model.max_seq_length = kept_max_length
    out_dir.mkdir(parents=True, exist_ok=True)
    transformer.model.save_pretrained(str(out_dir))
    return AdapterStats(
        pairs=len(pairs),
        steps=trainer.state.global_step,
        seconds=round(seconds, 1),
        first_loss=round(losses[0], 4) if losses else float("nan"),
        last_loss=round(losses[-1], 4) if losses else float("nan"),
    )


def merge_adapter(base_dir: Path, adapter_dir: Path, out_dir: Path) -> None:
    """Write base + adapter as one plain sentence-transformers folder: loading it costs what loading e5 costs."""
    from peft import PeftModel
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(base_dir), local_files_only=True, device="cpu")
    transformer = model[0]
    transformer.model = PeftModel.from_pretrained(transformer.model, str(adapter_dir)).merge_and_unload()
    model.save(str(out_dir))
