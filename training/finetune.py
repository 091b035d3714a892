"""Contrastive fine-tuning of the sentence embedder on CPU: MultipleNegativesRankingLoss with hard negatives.

Each anchor (a ticket) must score its own entry above every other entry in the batch and above its hard negative.
A plain PyTorch loop rather than the sentence-transformers Trainer, which would pull in `datasets`/`accelerate` for
nothing a few thousand pairs need.
"""

from __future__ import annotations

import math
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from training.pairs import ContrastivePair

if TYPE_CHECKING:
    from models.embedder import Embedder


# A few hundred pairs give about twenty steps per pass, too few to move the model; a few thousand give hundreds.
# Automatic epochs give small data sets enough passes to reach this many steps, and large ones a single pass.
AUTO_MIN_STEPS = 60
AUTO_MAX_EPOCHS = 3


def auto_epochs(pairs: int, batch_size: int) -> int:
    per_epoch = max(1, math.ceil(pairs / max(batch_size, 1)))
    return max(1, min(AUTO_MAX_EPOCHS, math.ceil(AUTO_MIN_STEPS / per_epoch)))


@dataclass(frozen=True)
class FinetuneConfig:
    epochs: int | None = None  # at most this many passes; None = auto_epochs
    batch_size: int = 16
    learning_rate: float = 3e-5
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01
    seed: int = 42
    max_seq_length: int = 128
    # The multilingual vocabulary table is most of the model's weights; a few thousand tickets cannot move it
    # usefully, and leaving it frozen makes each step far cheaper on CPU.
    freeze_word_embeddings: bool = True
    scale: float = 20.0
    progress: bool = True


@dataclass(frozen=True)
class FinetuneStats:
    pairs: int
    steps: int
    epochs: int
    first_loss: float  # mean over the first tenth of steps
    last_loss: float  # mean over the last tenth
    seconds: float
    kept_epoch: int = 0  # the epoch whose weights were kept (the last one when nothing judged them)
    epoch_scores: tuple = ()  # what the judge said after each epoch, in order


# Scores the model as it stands after an epoch (higher is better); called with the model in eval mode at its
# inference length. Any comparable value will do, e.g. a (top-1, MRR) tuple on a validation split.
EpochJudge = Callable[[int], object]


def make_batches(pairs: list[ContrastivePair], batch_size: int, rng: random.Random) -> list[list[ContrastivePair]]:
    """Shuffled batches in which no two pairs share a group (so in-batch negatives are real negatives)."""
    pending = list(pairs)
    rng.shuffle(pending)
    batches = []
    while pending:
        batch, groups, rest = [], set(), []
        for p in pending:
            if len(batch) < batch_size and (not p.group or p.group not in groups):
                batch.append(p)
                if p.group:
                    groups.add(p.group)
            else:
                rest.append(p)
        batches.append(batch)
        pending = rest
    return batches


def _linear_schedule(total: int, warmup: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / max(warmup, 1)
        return max(0.0, (total - step) / max(total - warmup, 1))

    return factor


def finetune(embedder: "Embedder", pairs: list[ContrastivePair], config: FinetuneConfig,
             judge: EpochJudge | None = None) -> FinetuneStats:
    """Train embedder.model in place; it is left in eval mode.

    With a judge, the weights after each epoch are scored and the best epoch's are the ones left in the model
    (the earliest on a tie): more passes over a few hundred pairs help until they overfit, and where that happens
    differs from one data set to the next."""
    if not pairs:
        raise ValueError("没有可用于训练的样本")
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = embedder.model
    kept_max_length = model.max_seq_length
    train_length = min(config.max_seq_length, kept_max_length or config.max_seq_length)
    model.max_seq_length = train_length

    frozen = []
    if config.freeze_word_embeddings:
        for module in model.modules():
            if isinstance(module, torch.nn.Embedding) and module.num_embeddings > 10_000:
                for p in module.parameters():
                    if p.requires_grad:
                        p.requires_grad_(False)
                        frozen.append(p)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.learning_rate, weight_decay=config.weight_decay)
    epochs = config.epochs or auto_epochs(len(pairs), config.batch_size)
    epoch_batches = [make_batches(pairs, config.batch_size, rng) for _ in range(epochs)]
    total = sum(len(b) for b in epoch_batches)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _linear_schedule(total, int(total * config.warmup_ratio)))
    # Imported here: the CLI reads this module's defaults for its help text, and sentence-transformers takes
    # seconds to import.
    try:  # sentence-transformers >= 6 moved the losses; older releases keep them here
        from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    except ImportError:  # pragma: no cover - depends on the installed release
        from sentence_transformers.losses import MultipleNegativesRankingLoss
    loss_fn = MultipleNegativesRankingLoss(model, scale=config.scale)
    tokenize = getattr(model, "preprocess", None) or model.tokenize
    device = model.device

    def features(texts: list[str]) -> dict[str, torch.Tensor]:
        return {k: v.to(device) if hasattr(v, "to") else v for k, v in tokenize(texts).items()}

    losses: list[float] = []
    epoch_scores: list = []
    best_state: dict[str, torch.Tensor] | None = None
    kept_epoch = epochs
    started = time.monotonic()
    model.train()
    try:
        with tqdm(total=total, desc="训练", unit="步", file=sys.stderr, disable=not config.progress,
                  dynamic_ncols=True) as bar:
            for epoch, batches in enumerate(epoch_batches, start=1):
                for batch in batches:
                    columns = [[embedder.query_prefix + p.anchor for p in batch],
                               [embedder.passage_prefix + p.positive for p in batch]]
                    if all(p.negative for p in batch):
                        columns.append([embedder.passage_prefix + p.negative for p in batch])
                    loss = loss_fn([features(c) for c in columns], torch.empty(0))
                    optimizer.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(trainable, 1.0)
                    optimizer.step()
                    scheduler.step()
                    losses.append(float(loss.detach()))
                    bar.set_postfix_str(f"第 {epoch}/{epochs} 轮 损失 {losses[-1]:.3f}")
                    bar.update(1)
                if judge is not None:
                    model.eval()
                    model.max_seq_length = kept_max_length
                    epoch_scores.append(judge(epoch))
                    model.max_seq_length = train_length
                    model.train()
                    if len(epoch_scores) == 1 or epoch_scores[-1] > max(epoch_scores[:-1]):
                        kept_epoch = epoch
                        if epoch < epochs:  # the last epoch's weights are in the model anyway
                            best_state = {k: v.detach().clone() for k, v in model.named_parameters() if v.requires_grad}
        if best_state is not None and kept_epoch < epochs:
            with torch.no_grad():
                for name, value in model.named_parameters():
                    if name in best_state:
                        value.copy_(best_state[name])
    finally:
        model.eval()
        model.max_seq_length = kept_max_length
        for p in frozen:
            p.requires_grad_(True)
    tenth = max(1, math.ceil(len(losses) / 10))
    return FinetuneStats(
        pairs=len(pairs), steps=len(losses), epochs=epochs,
        first_loss=sum(losses[:tenth]) / tenth, last_loss=sum(losses[-tenth:]) / tenth,
        seconds=time.monotonic() - started, kept_epoch=kept_epoch, epoch_scores=tuple(epoch_scores),
    )
