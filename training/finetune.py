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
    # With a judge, the kept epoch's change to the weights is also tried scaled down by these factors (the starting
    # weights plus a share of the change). Fine-tuning on a few hundred tickets pulls the model towards the entries
    # those tickets name; part-way back keeps more of what it knew about the rest, which often ranks better
    # (weight-space ensembling, Wortsman et al. 2022). The judge decides; the plain fine-tune stays a choice.
    mix_grid: tuple[float, ...] = (0.5, 0.75)


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
    kept_mix: float = 1.0  # the share of the kept epoch's change that was kept (1.0: all of it)
    mix_scores: tuple = ()  # (share, what the judge said), for each share tried below 1.0

    @property
    def kept(self) -> Snapshot:
        return Snapshot(self.kept_epoch, self.kept_mix)

    @property
    def kept_score(self) -> object:
        """What the judge said about the weights left in the model (None when nothing judged them)."""
        if self.kept_mix < 1.0:
            return dict(self.mix_scores)[self.kept_mix]
        return self.epoch_scores[self.kept_epoch - 1] if self.epoch_scores else None


@dataclass(frozen=True)
class Snapshot:
    """Which weights the judge is looking at: an epoch's, or the starting weights plus `mix` of that epoch's change."""

    epoch: int
    mix: float = 1.0

    @property
    def key(self) -> str:
        """Short and ASCII, fit for an index cache name."""
        return f"epoch{self.epoch}" if self.mix == 1.0 else f"epoch{self.epoch}-mix{self.mix:g}"

    def describe(self) -> str:
        if self.mix == 1.0:
            return f"第 {self.epoch} 轮后"
        return f"第 {self.epoch} 轮的改动保留 {self.mix:.0%}"


# Scores the model as it stands (higher is better); called with the model in eval mode at its inference length.
# Any comparable value will do, e.g. a (top-1, MRR) tuple on a validation split.
SnapshotJudge = Callable[[Snapshot], object]


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


def finetune(
    embedder: Embedder, pairs: list[ContrastivePair], config: FinetuneConfig, judge: SnapshotJudge | None = None
) -> FinetuneStats:
    """Train embedder.model in place; it is left in eval mode.

    With a judge, the weights after each epoch are scored and the best epoch's are kept (the earliest on a tie):
    more passes over a few hundred pairs help until they overfit, and where that happens differs from one data
    set to the next. Then that epoch's change is tried scaled down by each of config.mix_grid, and the best of
    these and the full change is left in the model (on a tie, the smaller change)."""
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
    mixing = judge is not None and bool(config.mix_grid)
    start_state = [p.detach().clone() for p in trainable] if mixing else []
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
    best_state: list[torch.Tensor] | None = None
    kept_epoch = epochs
    kept_mix, mix_scores = 1.0, ()
    started = time.monotonic()
    model.train()
    try:
        with tqdm(
            total=total, desc="训练", unit="步", file=sys.stderr, disable=not config.progress, dynamic_ncols=True
        ) as bar:
            for epoch, batches in enumerate(epoch_batches, start=1):
                for batch in batches:
                    columns = [
                        [embedder.query_prefix + p.anchor for p in batch],
                        [embedder.passage_prefix + p.positive for p in batch],
                    ]
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
                    epoch_scores.append(judge(Snapshot(epoch)))
                    model.max_seq_length = train_length
                    model.train()
                    if len(epoch_scores) == 1 or epoch_scores[-1] > max(epoch_scores[:-1]):
                        kept_epoch = epoch
                        if epoch < epochs:  # the last epoch's weights are in the model anyway
                            best_state = [p.detach().clone() for p in trainable]
        if best_state is not None and kept_epoch < epochs:
            _assign(trainable, best_state)
        if mixing:
            kept_mix, mix_scores = _choose_mix(
                model,
                trainable,
                start_state,
                epoch_scores[kept_epoch - 1],
                kept_epoch,
                config.mix_grid,
                judge,
                kept_max_length,
            )
    finally:
        model.eval()
        model.max_seq_length = kept_max_length
        for p in frozen:
            p.requires_grad_(True)
    tenth = max(1, math.ceil(len(losses) / 10))
    return FinetuneStats(
        pairs=len(pairs),
        steps=len(losses),
        epochs=epochs,
        first_loss=sum(losses[:tenth]) / tenth,
        last_loss=sum(losses[-tenth:]) / tenth,
        seconds=time.monotonic() - started,
        kept_epoch=kept_epoch,
        epoch_scores=tuple(epoch_scores),
        kept_mix=kept_mix,
        mix_scores=mix_scores,
    )


def _assign(params: list[torch.Tensor], values: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for p, v in zip(params, values):
            p.copy_(v)


def _choose_mix(
    model,
    trainable: list[torch.Tensor],
    start: list[torch.Tensor],
    full_score: object,
    epoch: int,
    grid: tuple[float, ...],
    judge: SnapshotJudge,
    max_length: int | None,
) -> tuple[float, tuple]:
    """Score start + share × (kept − start) for each share in grid, leave the best (the full change included,
    already scored as full_score; the smaller share on a tie) in the model, and say which it was."""
    tuned = [p.detach().clone() for p in trainable]
    model.eval()
    model.max_seq_length = max_length
    tried = []
    for share in sorted(set(grid) - {1.0}):
        _assign(trainable, [s + share * (t - s) for s, t in zip(start, tuned)])
        tried.append((share, judge(Snapshot(epoch, share))))
    best_share, best_score = 1.0, full_score
    for share, score in reversed(tried):  # from the largest share down, so a tie goes to the smaller one
        if score >= best_score:
            best_share, best_score = share, score
    _assign(trainable, [s + best_share * (t - s) for s, t in zip(start, tuned)] if best_share < 1.0 else tuned)
    return best_share, tuple(tried)
