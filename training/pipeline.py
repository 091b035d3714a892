"""One training run: assemble the data, fine-tune the current model, score before and after, promote or refuse."""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from corpus.schema import Catalog
from corpus.store import CatalogStore
from inference.evaluate import load_labelled
from inference.examples import ExampleStore
from inference.loader import fusion_with_examples
from lvzhi.config import Settings
from models.e5_rebuild import sha256_of
from models.embedder import Embedder, load_embedder
from models.registry import (
    ModelRecord,
    ModelRegistry,
    PromotionVerdict,
    ValidationScores,
    decide_promotion,
    now_iso,
    score_drops,
)
from training.adapt import prepare_model
from training.data import (
    SOURCE_REVIEW,
    LabelledText,
    RejectedText,
    align_to_catalog,
    labels_from_reviews,
    read_pairs_file,
    split_validation,
)
from training.evaluation import build_matcher, dense_scores, examples_by_entry, in_query_form, matcher_scores
from training.example_weight import fit_category_weight
from training.finetune import FinetuneConfig, FinetuneStats, Snapshot, auto_epochs, finetune
from training.pairs import (
    ContrastivePair,
    catalog_pairs,
    confusable_entries,
    data_hash,
    labelled_pairs,
    with_hard_negatives,
)
from training.reviews import ReviewDecision, read_review_file

Report = Callable[[str], None]


@dataclass(frozen=True)
class TrainRequest:
    reviews_file: Path | None = None
    pairs_file: Path | None = None
    eval_items: Path | None = None
    eval_gold: Path | None = None
    # The web service's decisions (read by the caller: api.confirmed.service_reviews), used when no reviews_file is given.
    service_reviews: tuple[ReviewDecision, ...] = ()
    use_catalog_pairs: bool = True
    validation_fraction: float = 0.2
    force: bool = False
    keep_refused_weights: bool = False
    config: FinetuneConfig = field(default_factory=FinetuneConfig)


@dataclass
class TrainingData:
    catalog_pairs: list[ContrastivePair]
    train: list[LabelledText]
    validation: list[LabelledText]
    rejected: list[RejectedText]
    review_count: int
    pairs_file_count: int
    carried: int
    problems: list[str]

    @property
    def labelled(self) -> list[LabelledText]:
        return self.train + self.validation


@dataclass(frozen=True)
class ScorePair:
    before: ValidationScores
    after: ValidationScores

    def to_dict(self) -> dict:
        return {"before": self.before.to_dict(), "after": self.after.to_dict()}


@dataclass
class TrainOutcome:
    record: ModelRecord
    verdict: PromotionVerdict
    stats: FinetuneStats
    data: TrainingData
    validation: ScorePair | None  # through the whole matcher; None when there was nothing to validate on
    validation_dense: ScorePair | None  # the model alone: what promotion is decided on
    evaluation: ScorePair | None  # the --eval set, through the whole matcher
    evaluation_dense: ScorePair | None
    validation_source: str  # what the validation figures were computed on, in words


def assemble(settings: Settings, catalog: Catalog, request: TrainRequest) -> TrainingData:
    labelled: list[LabelledText] = []
    rejected: list[RejectedText] = []
    if request.reviews_file is not None:
        decisions = read_review_file(request.reviews_file)
    else:
        decisions = list(request.service_reviews)
    review_labels, review_rejects = labels_from_reviews(decisions)
    labelled.extend(review_labels)
    rejected.extend(review_rejects)
    from_pairs = read_pairs_file(request.pairs_file) if request.pairs_file is not None else []
    labelled.extend(from_pairs)
    aligned = align_to_catalog(labelled, rejected, catalog, CatalogStore(settings.catalogs_dir))
    train, validation = split_validation(aligned.labelled, request.validation_fraction, request.config.seed)
    return TrainingData(
        catalog_pairs=catalog_pairs(catalog) if request.use_catalog_pairs else [],
        train=train,
        validation=validation,
        rejected=aligned.rejected,
        review_count=len(review_labels),
        pairs_file_count=len(from_pairs),
        carried=aligned.carried,
        problems=aligned.problems,
    )


def _describe(data: TrainingData, report: Report) -> None:
    n_review = sum(1 for x in data.labelled if x.source == SOURCE_REVIEW)
    report(
        f"训练数据：清单自带 {len(data.catalog_pairs)} 对；审核确认 {n_review} 条，审核驳回 {len(data.rejected)} 条；"
        f"标注文件 {len(data.labelled) - n_review} 条"
    )
    if data.carried:
        report(f"  其中 {data.carried} 条是对旧版本清单的标注，已按清单比对换算到当前清单")
    for line in data.problems:
        report("  注意：" + line)
    report(f"  验证集 {len(data.validation)} 条（固定划分，从不参与训练），训练用标注 {len(data.train)} 条")


def _clone(embedder: Embedder) -> Embedder:
    return replace(embedder, model=copy.deepcopy(embedder.model))


def run_training(settings: Settings, catalog: Catalog, request: TrainRequest, report: Report = print) -> TrainOutcome:
    data = assemble(settings, catalog, request)
    _describe(data, report)
    if not data.catalog_pairs and not data.train:
        raise ValueError("没有可用于训练的样本：请提供 --reviews、--pairs，或使用带事项内容的清单")

    eval_items: list[LabelledText] = []
    if request.eval_items is not None and request.eval_gold is not None:
        labelled = load_labelled(request.eval_items, request.eval_gold)
        eval_items = [
            LabelledText(x.text, x.gold, "评估集") for x in labelled if x.gold and catalog.get(x.gold) is not None
        ]
        if len(eval_items) < len(labelled):
            report(
                f"  评估集 {len(labelled)} 条中 {len(labelled) - len(eval_items)} 条为清单之外或事项序号不在本清单中，"
                "不计入排名指标"
            )
    validation, validation_source = data.validation, "验证集"
    if not validation and eval_items:
        validation, validation_source = eval_items, "评估集（没有可留出的标注，以 --eval 标注集作验证）"

    prepare_model(settings, report)  # the adapted default model, built here if this is its first use
    registry = ModelRegistry.for_models_dir(settings.models_dir)
    parent = registry.current_for(settings.model)
    current = load_embedder(settings)
    report(f"当前模型：{current.identity}")
    examples = examples_by_entry(data.train)

    confusable = confusable_entries(current, catalog, batch_size=settings.batch_size)
    before_matcher = build_matcher(settings, catalog, current, examples)
    # Tickets are learned, and the model alone is scored, in the form the matcher's dense channel encodes them
    # (Matcher.query_forms), so that what the model learns is what answers: a model trained on one form and asked
    # in another ranked worse inside the matcher (docs/experiments.md).
    as_query = {x.text: q.text for x, q in zip(data.train, in_query_form(before_matcher, data.train))}
    pairs = [
        replace(p, anchor=as_query.get(p.anchor, p.anchor))
        for p in with_hard_negatives(
            data.catalog_pairs + labelled_pairs(data.train, catalog), catalog, confusable, data.rejected
        )
    ]
    validation_queries = in_query_form(before_matcher, validation)
    eval_queries = in_query_form(before_matcher, eval_items)
    # Fitted before fine-tuning: a model that has learned these texts would make them look easier than new ones.
    vote = fit_category_weight(before_matcher, [x.text for x in data.train], [x.entry_id for x in data.train])
    report(vote.reason)
    before_matcher.fusion = fusion_with_examples(settings, catalog)  # as answers are given today
    before = matcher_scores(before_matcher, validation)
    before_dense = dense_scores(current, catalog, validation_queries, settings.batch_size)
    before_eval = matcher_scores(before_matcher, eval_items) if eval_items else None
    before_eval_dense = dense_scores(current, catalog, eval_queries, settings.batch_size) if eval_items else None
    del before_matcher

    candidate = _clone(current)
    config = request.config
    epochs = config.epochs or auto_epochs(len(pairs), config.batch_size)
    report(
        f"开始训练：{len(pairs)} 对，{'最多 ' if validation else ''}{epochs} 轮"
        f"{'（按数据量自动确定）' if not config.epochs else ''}，批大小 {config.batch_size}，随机种子 {config.seed}"
    )

    judged: dict[Snapshot, ValidationScores] = {}  # the kept weights' are the model's "after" figures

    def judge(snapshot: Snapshot) -> tuple[float, float]:
        s = dense_scores(candidate, catalog, validation_queries, settings.batch_size)
        judged[snapshot] = s
        report(f"  {snapshot.describe()}，验证：Top-1 {s.top1:.3f}，MRR {s.mrr:.3f}")
        return s.top1, s.mrr

    stats = finetune(candidate, pairs, replace(config, epochs=epochs), judge=judge if validation else None)
    kept = f"，取验证最好的第 {stats.kept_epoch} 轮" if validation and epochs > 1 else ""
    if stats.kept_mix < 1.0:
        kept += f"，其改动保留 {stats.kept_mix:.0%}（其余退回原模型的权重，验证更好）"
    report(
        f"训练完成：{stats.steps} 步，用时 {stats.seconds:.0f} 秒，损失 {stats.first_loss:.3f} → {stats.last_loss:.3f}"
        f"{kept}"
    )

    staged = registry.staging_dir()
    try:
        candidate.model.save(str(staged))
        weights = staged / "model.safetensors"
        record = registry.add(
            staged,
            ModelRecord(
                version="",
                base_model=settings.model,
                parent=parent.version if parent else "",
                created_at=now_iso(),
                data_hash=data_hash(pairs, catalog),
                weights_sha256=sha256_of(weights) if weights.is_file() else "",
                catalog_name=catalog.name,
                catalog_version=catalog.version,
                train_pairs=len(pairs),
                epochs=stats.kept_epoch,
                seed=config.seed,
            ),
        )
    finally:
        shutil.rmtree(staged, ignore_errors=True)  # gone already when the registry took it in
    # The same identity load_embedder will give it once promoted, so the index built here is reused then.
    candidate = replace(
        candidate, name=record.display_name, identity=f"{record.display_name}@{record.weights_sha256[:12]}"
    )

    after_matcher = build_matcher(settings, catalog, candidate, examples)
    after_matcher.fusion = replace(after_matcher.fusion, category_examples=vote.weight)
    after = matcher_scores(after_matcher, validation)
    # The model holds the kept weights, which the judge has already scored on these very items.
    after_dense = (
        judged[stats.kept] if judged else dense_scores(candidate, catalog, validation_queries, settings.batch_size)
    )
    after_eval = matcher_scores(after_matcher, eval_items) if eval_items else None
    after_eval_dense = dense_scores(candidate, catalog, eval_queries, settings.batch_size) if eval_items else None

    if validation:
        # The model is what gets promoted, so it is judged on its own ranking; the whole matcher's figures are
        # reported beside it and a drop there is named in the verdict, never passed over in silence.
        verdict = decide_promotion(after_dense, before_dense, request.force)
        matcher_drops = score_drops(after, before)
        if verdict.promote and matcher_drops:
            verdict = replace(verdict, reason=verdict.reason + "；注意：完整匹配的" + "，".join(matcher_drops))
    elif request.force:
        verdict = PromotionVerdict(True, "没有验证数据，无法比较；指定了 --force，仍然启用")
    else:
        verdict = PromotionVerdict(
            False, "没有验证数据（标注太少且未给 --eval），无法确认新模型不变差，未启用；如确需启用请加 --force"
        )
    metrics = {
        "validation_source": validation_source,
        "category_vote": vote.to_dict(),
        "epochs": {
            "trained": stats.epochs,
            "kept": stats.kept_epoch,
            "validation_top1_mrr": [[round(x, 4) for x in e] for e in stats.epoch_scores],
        },
        "mix": {
            "kept": stats.kept_mix,
            "validation_top1_mrr": {f"{share:g}": [round(x, 4) for x in score] for share, score in stats.mix_scores},
        },
    }
    if validation:
        metrics["validation"] = ScorePair(before, after).to_dict()
        metrics["validation_dense"] = ScorePair(before_dense, after_dense).to_dict()
    if eval_items:
        metrics["eval"] = ScorePair(before_eval, after_eval).to_dict()
        metrics["eval_dense"] = ScorePair(before_eval_dense, after_eval_dense).to_dict()
    record = registry.update(replace(record, metrics=metrics))
    record = registry.promote(record, verdict)
    if not verdict.promote and not request.keep_refused_weights:
        record = registry.discard_weights(record.version)
    if verdict.promote and data.labelled:
        ExampleStore.for_settings(settings).add(catalog, data.labelled, category_vote=vote.to_dict())

    return TrainOutcome(
        record=record,
        verdict=verdict,
        stats=stats,
        data=data,
        validation=ScorePair(before, after) if validation else None,
        validation_dense=ScorePair(before_dense, after_dense) if validation else None,
        evaluation=ScorePair(before_eval, after_eval) if eval_items else None,
        evaluation_dense=ScorePair(before_eval_dense, after_eval_dense) if eval_items else None,
        validation_source=validation_source,
    )
