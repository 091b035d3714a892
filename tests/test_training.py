"""Real fine-tuning of the real default model on a small list of confusable entries, promotion, refusal, rollback.

One training run is shared by the module (about a minute on one CPU thread); a second one, on deliberately wrong
labels, is run through the command line and must be refused.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from api.confirmed import ready_matcher
from corpus.importer import import_catalog
from corpus.tables import write_table
from inference.examples import ExampleStore
from lvzhi.cli import main
from lvzhi.config import DEFAULT_MODEL, Settings
from models.e5_rebuild import DEFAULT_MODEL_DIRNAME, ensure_default_model
from models.embedder import load_embedder
from models.registry import ModelRegistry
from tests.training_fixture import HELD_OUT, TRAIN, WRONG_ENTRY, catalog_rows
from training import example_weight, pipeline
from training.adapt import ensure_adapted_model
from training.example_weight import WEIGHT_GRID, fit_category_weight
from training.finetune import AUTO_MAX_EPOCHS, AUTO_MIN_STEPS, FinetuneConfig, Snapshot, auto_epochs, finetune
from training.pairs import ContrastivePair
from training.pipeline import TrainRequest, run_training

pytestmark = pytest.mark.slow

HELD_OUT_TEXTS = [t for texts in HELD_OUT.values() for t in texts]


def private_home(base: Path, shared: Settings) -> Path:
    """A fresh home whose registry and example store are ours alone, borrowing the rebuilt base model and the
    adapted default model (built once per test home; training writes only to the registry's own folders)."""
    ensure_default_model(shared.models_dir)
    adapted, _ = ensure_adapted_model(shared.models_dir)
    (base / "models").mkdir(parents=True)
    for name in (DEFAULT_MODEL_DIRNAME, adapted.name):
        os.symlink(shared.models_dir / name, base / "models" / name)
    return base


def answers(settings: Settings) -> list[tuple[tuple[str, ...], tuple[float, ...]]]:
    matcher = ready_matcher(settings, examples=False)
    return [
        (tuple(c.entry.id for c in m.candidates), tuple(round(c.score, 5) for c in m.candidates))
        for m in matcher.match(HELD_OUT_TEXTS)
    ]


def review_rows() -> list[dict]:
    """Reviews for the first four entries: accepted, corrected (the wrong suggestion becomes a negative), rejected."""
    rows = []
    for entry_id in ("A01", "A02", "A03", "A04"):
        for k, text in enumerate(TRAIN[entry_id]):
            wrong = WRONG_ENTRY[entry_id]
            decision, suggested = ("更正", wrong) if k % 3 == 0 else ("接受", entry_id)
            rows.append(
                {
                    "内容": text,
                    "决定": decision,
                    "建议事项序号": suggested,
                    "最终事项序号": entry_id,
                    "审核人": "张三",
                    "审核时间": "2024-05-01 10:00",
                    "意见": "",
                    "清单版本": "",
                    "模型版本": "",
                }
            )
    rows.append(
        {
            "内容": "我家手机信号太差了",
            "决定": "驳回",
            "建议事项序号": "A08",
            "最终事项序号": "",
            "审核人": "张三",
            "审核时间": "2024-05-01 10:05",
            "意见": "清单之外",
            "清单版本": "",
            "模型版本": "",
        }
    )
    return rows


@pytest.fixture(scope="module")
def trained(tmp_path_factory, settings):
    home = private_home(tmp_path_factory.mktemp("train-home"), settings)
    files = tmp_path_factory.mktemp("train-files")
    write_table(files / "catalog.csv", catalog_rows())
    write_table(files / "reviews.csv", review_rows())
    write_table(
        files / "pairs.csv", [{"内容": t, "标准事项序号": e} for e in ("A05", "A06", "A07", "A08") for t in TRAIN[e]]
    )
    held = [(e, t) for e, texts in HELD_OUT.items() for t in texts]
    write_table(files / "items.csv", [{"编号": f"H{i}", "内容": t} for i, (_, t) in enumerate(held)])
    write_table(files / "gold.csv", [{"编号": f"H{i}", "标准事项序号": e} for i, (e, _) in enumerate(held)])
    write_table(
        files / "wrong.csv", [{"内容": t, "标准事项序号": WRONG_ENTRY[e]} for e, texts in TRAIN.items() for t in texts]
    )

    own = Settings(home=home, threads=1, catalog=str(files / "catalog.csv"))
    catalog = import_catalog([files / "catalog.csv"])
    base_answers = answers(own)
    base_identity = load_embedder(own).identity
    trained_on: list[ContrastivePair] = []

    def recording_finetune(embedder, pairs, config, judge=None):
        trained_on.extend(pairs)  # only looks: the real fine-tune runs on exactly these
        return finetune(embedder, pairs, config, judge=judge)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "finetune", recording_finetune)
        outcome = run_training(
            own,
            catalog,
            TrainRequest(
                reviews_file=files / "reviews.csv",
                pairs_file=files / "pairs.csv",
                eval_items=files / "items.csv",
                eval_gold=files / "gold.csv",
                validation_fraction=0.25,
                config=FinetuneConfig(epochs=2, batch_size=8, learning_rate=5e-5, progress=False),
            ),
            report=lambda line: None,
        )
    return {
        "settings": own,
        "catalog": catalog,
        "files": files,
        "outcome": outcome,
        "pairs": trained_on,
        "base_answers": base_answers,
        "base_identity": base_identity,
    }


def test_tickets_are_learned_as_the_matcher_encodes_them(trained):
    """Reviewed and labelled tickets are trained on in the form the matcher's dense channel encodes them (cleaned,
    no added official terms), not as written: a model trained on other forms ranked worse inside the matcher."""
    train = trained["outcome"].data.train
    matcher = ready_matcher(trained["settings"], dense=False, examples=False)
    texts = [x.text for x in train]
    forms = matcher.query_forms(texts)
    anchors = {p.anchor for p in trained["pairs"]}
    assert set(forms) <= anchors
    # The lexical channels' form (official terms appended) differs for most tickets and is never trained on.
    expanded = set(matcher.prepare(texts)[1]) - set(forms)
    assert expanded and not expanded & anchors


def test_training_improves_held_out_tickets_and_is_promoted(trained):
    outcome = trained["outcome"]
    held = outcome.evaluation_dense
    assert held.before.n == len(HELD_OUT_TEXTS)
    # The default model already ranks most of these well; training must close at least half of what is left.
    assert held.after.mrr >= held.before.mrr + min(0.03, (1 - held.before.mrr) / 2), held
    assert held.after.top1 > held.before.top1, held
    assert outcome.evaluation.after.top1 >= outcome.evaluation.before.top1  # the whole matcher did not lose
    assert outcome.validation_dense.after.mrr >= outcome.validation_dense.before.mrr
    assert outcome.verdict.promote
    assert outcome.stats.last_loss < outcome.stats.first_loss

    registry = ModelRegistry.for_models_dir(trained["settings"].models_dir)
    current = registry.current()
    assert current is not None and current.version == outcome.record.version == "v1"
    assert current.status == "promoted" and current.base_model == DEFAULT_MODEL and current.parent == ""
    assert current.metrics["eval_dense"]["after"]["mrr"] == round(held.after.mrr, 4)
    assert len(current.data_hash) == 16 and current.catalog_version == trained["catalog"].version
    epochs = current.metrics["epochs"]
    assert epochs["trained"] == 2 and len(epochs["validation_top1_mrr"]) == 2 and current.epochs == epochs["kept"]
    mix = current.metrics["mix"]
    assert set(mix["validation_top1_mrr"]) == {"0.5", "0.75"} and mix["kept"] in (0.5, 0.75, 1.0)
    kept_scores = (
        epochs["validation_top1_mrr"][epochs["kept"] - 1]
        if mix["kept"] == 1.0
        else mix["validation_top1_mrr"][f"{mix['kept']:g}"]
    )
    after = outcome.validation_dense.after
    assert kept_scores == [round(after.top1, 4), round(after.mrr, 4)]


def test_reviews_and_pairs_become_training_data(trained):
    data = trained["outcome"].data
    assert data.review_count == 24  # accepted and corrected rows; the rejected one has no entry to learn
    assert data.pairs_file_count == 24
    assert len(data.train) + len(data.validation) == 48
    assert not {x.text for x in data.train} & {x.text for x in data.validation}
    rejected = {(r.text, r.entry_id) for r in data.rejected}
    assert ("我家手机信号太差了", "A08") in rejected
    assert (TRAIN["A01"][0], WRONG_ENTRY["A01"]) in rejected  # a correction's wrong suggestion


def test_promoted_model_and_confirmed_examples_answer_at_once(trained):
    own = trained["settings"]
    matcher = ready_matcher(own)
    assert matcher.embedder.identity.startswith(f"{DEFAULT_MODEL}#v1@")
    assert matcher.embedder.identity != trained["base_identity"]
    stored = ExampleStore.for_settings(own).load(trained["catalog"].version)
    assert TRAIN["A05"][0] in stored["A05"]
    assert TRAIN["A05"][0] in matcher.examples["A05"]
    assert matcher.match([TRAIN["A05"][0]])[0].best.entry.id == "A05"
    assert not ready_matcher(own, examples=False).examples


@pytest.fixture(scope="module")
def refused(trained):
    files = trained["files"]
    own = trained["settings"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "--home",
                str(own.home),
                "--threads",
                "1",
                "train",
                "--catalog",
                str(files / "catalog.csv"),
                "--pairs",
                str(files / "wrong.csv"),
                "--no-service-reviews",
                "--no-catalog-pairs",
                "--eval",
                str(files / "items.csv"),
                str(files / "gold.csv"),
                "--validation",
                "0",
                "--epochs",
                "2",
                "--batch-size",
                "8",
                "--learning-rate",
                "1e-4",
                "--quiet",
                "--json",
            ]
        )
    text = out.getvalue()
    return code, json.loads(text.strip().splitlines()[-1]), text


def test_model_trained_on_wrong_labels_is_refused(trained, refused):
    code, summary, out = refused
    assert code == 3
    assert not summary["promoted"]
    assert "变差" in summary["verdict"]
    after = summary["metrics"]["validation_dense"]["after"]
    before = summary["metrics"]["validation_dense"]["before"]
    assert after["mrr"] < before["mrr"]  # a real comparison on the correctly labelled held-out set
    assert "评估集" in summary["metrics"]["validation_source"]
    registry = ModelRegistry.for_models_dir(trained["settings"].models_dir)
    assert registry.current().version == "v1"
    record = registry.get(summary["version"])
    assert record.status == "refused" and not record.weights_kept
    assert not registry.model_dir(record.version).exists()
    assert "未启用" in out


def test_rollback_and_use_restore_previous_answers(trained, refused, capsys):
    own = trained["settings"]
    home = ["--home", str(own.home), "--threads", "1"]
    promoted_answers = answers(own)
    assert promoted_answers != trained["base_answers"]

    assert main(home + ["model", "list"]) == 0
    listing = capsys.readouterr().out
    assert "* v1" in listing and "未通过验证" in listing
    kept = ModelRegistry.for_models_dir(own.models_dir).get("v1").metrics["mix"]["kept"]
    assert ("改动保留" in listing.split("* v1")[1].splitlines()[0]) == (kept < 1.0)

    assert main(home + ["model", "rollback"]) == 0
    assert "基础模型" in capsys.readouterr().out
    assert load_embedder(own).identity == trained["base_identity"]
    assert answers(own) == trained["base_answers"]

    assert main(home + ["model", "use", "v1"]) == 0
    assert answers(own) == promoted_answers
    refused_version = refused[1]["version"]
    assert main(home + ["model", "use", refused_version]) == 1  # its weights were discarded
    assert "权重已删除" in capsys.readouterr().err
    assert ModelRegistry.for_models_dir(own.models_dir).current().version == "v1"


def test_vectors_of_restored_base_model_are_bit_identical(trained):
    own = trained["settings"]
    registry = ModelRegistry.for_models_dir(own.models_dir)
    registry.use("base")
    try:
        restored = load_embedder(own).encode_queries(HELD_OUT_TEXTS[:4])
        fresh = load_embedder(own, use_registry=False).encode_queries(HELD_OUT_TEXTS[:4])
        assert np.array_equal(restored, fresh)
    finally:
        registry.rollback()
    assert registry.current().version == "v1"


def test_category_vote_is_fitted_by_leave_one_out_and_travels_with_the_examples(trained):
    own = trained["settings"]
    vote = trained["outcome"].record.metrics["category_vote"]
    assert vote["texts"] == len(trained["outcome"].data.train)
    assert set(vote["accuracy"]) == {str(m) for m in WEIGHT_GRID}
    best = max(WEIGHT_GRID, key=lambda m: (vote["accuracy"][str(m)], -m))
    matcher = ready_matcher(own)
    assert vote["weight"] == pytest.approx(best * matcher.fusion.dense)
    assert ExampleStore.for_settings(own).category_weight(trained["catalog"].version) == vote["weight"]
    assert matcher.fusion.category_examples == vote["weight"]
    assert ready_matcher(own, examples=False).fusion.category_examples == 0.0


def test_leave_one_out_hides_a_confirmed_text_from_itself(trained):
    matcher = ready_matcher(trained["settings"])
    text = TRAIN["A05"][0]
    seen = matcher.gather_evidence([text], use_dense=True)
    hidden = matcher.gather_evidence([text], use_dense=True, leave_out=True)
    position = [e.id for e in matcher.catalog.entries].index("A05")
    assert seen.examples[0][position] > 0.999  # it finds itself ...
    assert hidden.examples[0].get(position, 0.0) < 0.999  # ... unless left out
    assert seen.categories[0] != hidden.categories[0]


def test_vote_fit_gives_the_same_answer_in_small_batches(trained, monkeypatch):
    matcher = ready_matcher(trained["settings"])
    train = trained["outcome"].data.train
    texts, labels = [x.text for x in train], [x.entry_id for x in train]
    whole = fit_category_weight(matcher, texts, labels)
    monkeypatch.setattr(example_weight, "FIT_BATCH", 5)
    assert fit_category_weight(matcher, texts, labels) == whole


def test_auto_epochs_give_small_data_more_passes():
    assert auto_epochs(40, 16) == AUTO_MAX_EPOCHS
    assert auto_epochs(AUTO_MIN_STEPS * 16, 16) == 1
    assert auto_epochs(0, 16) == AUTO_MAX_EPOCHS  # never zero; finetune refuses empty data itself


def small_pairs() -> list[ContrastivePair]:
    return [
        ContrastivePair(text, TRAIN[entry][(k + 1) % len(TRAIN[entry])], group=entry)
        for entry in ("A01", "A02", "A03", "A04")
        for k, text in enumerate(TRAIN[entry][:3])
    ]


def weights_of(embedder) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in embedder.model.named_parameters()}


@pytest.mark.parametrize("scores, kept", [((0.9, 0.5), 1), ((0.5, 0.9), 2), ((0.7, 0.7), 1)])
def test_epoch_judge_leaves_the_best_epochs_weights(embedder, scores, kept):
    """The judge sees the model after each epoch; whichever epoch it scores best (the earlier on a tie) is what
    the model holds afterwards, down to the last weight."""
    model = replace(embedder, model=copy.deepcopy(embedder.model))
    snapshots = []

    def judge(snapshot: Snapshot) -> float:
        assert not model.model.training and model.model.max_seq_length == embedder.model.max_seq_length
        if snapshot.mix < 1.0:
            return 0.0  # every partial change scores worse here: this test is about the epochs
        snapshots.append(weights_of(model))
        return scores[snapshot.epoch - 1]

    stats = finetune(
        model, small_pairs(), FinetuneConfig(epochs=2, batch_size=4, learning_rate=1e-4, progress=False), judge=judge
    )
    assert stats.kept_epoch == kept and stats.epoch_scores == scores and stats.epochs == 2
    assert stats.kept_mix == 1.0 and stats.kept_score == scores[kept - 1]
    final = dict(model.model.named_parameters())
    moved = [k for k in final if not torch.equal(snapshots[0][k], snapshots[1][k])]
    assert moved  # the second epoch did change the weights, so the test can tell the epochs apart
    assert all(torch.equal(final[k], snapshots[kept - 1][k]) for k in final)


@pytest.mark.parametrize(
    "scores, kept_mix",
    [((0.0, 1.0, 0.0), 0.5), ((0.5, 0.4, 0.6), 0.75), ((0.9, 0.5, 0.5), 1.0), ((0.5, 0.5, 0.5), 0.5)],
)
def test_judge_can_keep_part_of_the_change(embedder, scores, kept_mix):
    """After the best epoch, its change to the weights is tried at half and three quarters; the judge's favourite
    (the smaller change on a tie) is what the model holds: the starting weights plus that share of the change."""
    model = replace(embedder, model=copy.deepcopy(embedder.model))
    start = weights_of(model)
    seen: dict[Snapshot, dict[str, torch.Tensor]] = {}
    score_of = {1.0: scores[0], 0.5: scores[1], 0.75: scores[2]}

    def judge(snapshot: Snapshot) -> float:
        assert not model.model.training and model.model.max_seq_length == embedder.model.max_seq_length
        seen[snapshot] = weights_of(model)
        return score_of[snapshot.mix]

    stats = finetune(
        model,
        small_pairs(),
        FinetuneConfig(epochs=1, batch_size=4, learning_rate=1e-4, progress=False, mix_grid=(0.75, 0.5)),
        judge=judge,
    )
    assert list(seen) == [Snapshot(1), Snapshot(1, 0.5), Snapshot(1, 0.75)]
    assert stats.kept == Snapshot(1, kept_mix) and stats.kept_score == score_of[kept_mix]
    assert stats.mix_scores == ((0.5, scores[1]), (0.75, scores[2]))
    tuned, final = seen[Snapshot(1)], dict(model.model.named_parameters())
    moved = [k for k in final if not torch.equal(start[k], tuned[k])]
    assert moved and len(moved) < len(final)  # trained, with the frozen vocabulary table left alone
    for k in final:
        assert torch.allclose(final[k], start[k] + kept_mix * (tuned[k] - start[k]), atol=1e-6), k
        assert torch.equal(final[k], seen[stats.kept][k])
