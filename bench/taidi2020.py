"""Proof on real public data: TipDM Cup 2020 government-message-board messages against its 3-level taxonomy.

The taxonomy plays a published list (one entry per row: name = 三级分类, category = 一级分类, description = the
three levels joined), the messages play hotline tickets (title + body). Scored as in the data's README: top-level
class accuracy and macro-F1 over the 7 gold classes.

- zero-shot: lvzhi's matcher on the base model; a message goes to the 一级分类 whose entries score best together
  (mean of the class's two best candidates).
- retrained: 5-fold cross-validation. On the training folds, lvzhi fine-tunes the embedder (message, in the form
  the matcher encodes it, ↔ the best entry of its class, the best entry of another class as hard negative) and
  adds the training messages to the index as confirmed examples, exactly as `lvzhi train` and reviewed examples
  do. An example counts directly only for a near-duplicate ticket; beyond that the categories' support from their
  nearest examples is weighed in, with the weight `lvzhi train` fits by leave-one-out on the training messages
  (here scored by the class vote, since classes are what this data labels). As `lvzhi train` keeps the epoch (and
  the share of its change) that scores best on a validation part it never trains on, and promotes a model only if
  it is not worse there (neither top-1 nor MRR, here of the class), a fifth of each training fold is held back for
  those choices; the held-out fold is then classified like the zero-shot run with whichever model won.
- baselines, computed in the same run: char 1–3-gram TF-IDF nearest row, dense e5 nearest row, and 5-fold
  char TF-IDF + LinearSVC.

The matcher's fusion is told to use only its domain-free channels (char n-grams and the embedding), weighted so
that each moves a score equally (the char weight is the spread of char similarities over the messages, measured
without labels); its concept lexicon and word dictionary are written for township duty lists, not this taxonomy.

    .venv/bin/python bench/taidi2020.py [--data DIR] [--home DIR] [--folds 5] [--epochs N]

The last output line is one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.svm import LinearSVC

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from corpus.schema import Catalog, DutyEntry  # noqa: E402
from corpus.tables import read_rows  # noqa: E402
from inference.fusion import FusionParams  # noqa: E402
from inference.matcher import Candidate, Matcher  # noqa: E402
from lvzhi.config import Settings, load_settings  # noqa: E402
from models.e5_rebuild import DEFAULT_MODEL_DIRNAME  # noqa: E402
from models.embedder import Embedder, load_embedder  # noqa: E402
from training.adapt import ensure_adapted_model  # noqa: E402
from training.example_weight import WeightFit, fit_category_weight  # noqa: E402
from training.finetune import FinetuneConfig, Snapshot, finetune  # noqa: E402
from training.pairs import ContrastivePair  # noqa: E402

DEFAULT_DATA = ROOT.parent / "shared" / "benchmarks" / "taidi2020"
README_BASELINES = {"char_tfidf": (0.814, 0.844), "dense_e5": (0.604, None), "tfidf_svc": (0.768, 0.730)}
CANDIDATES = 40  # candidates per message the class vote looks at
DENSE_BASELINE_CHARS = 200
VALIDATION_FRACTION = 0.2  # lvzhi train's default


@dataclass(frozen=True)
class Dataset:
    catalog: Catalog
    texts: list[str]
    gold: list[str]
    classes: list[str]  # the gold classes, sorted: macro-F1 is over these


def load_dataset(data_dir: Path) -> Dataset:
    taxonomy = read_rows(data_dir / "taxonomy.xlsx")
    entries = []
    for k, row in enumerate(taxonomy, start=1):
        v = row.values
        levels = [v["一级分类"].strip(), v["二级分类"].strip(), v["三级分类"].strip()]
        entries.append(DutyEntry(id=f"{k:03d}", name=levels[2], category=levels[0], description="/".join(levels)))
    messages = read_rows(data_dir / "messages.xlsx")
    texts = [f"{m.values['留言主题'].strip()}。{' '.join(m.values['留言详情'].split())}" for m in messages]
    gold = [m.values["一级分类"].strip() for m in messages]
    catalog = Catalog(name="泰迪杯2020 留言分类体系", entries=tuple(entries))
    return Dataset(catalog, texts, gold, sorted(set(gold)))


def scores(gold: list[str], predicted: list[str], classes: list[str]) -> tuple[float, float]:
    return (
        float(accuracy_score(gold, predicted)),
        float(f1_score(gold, predicted, labels=classes, average="macro", zero_division=0)),
    )


def class_ranking(candidates: Sequence[Candidate], per_class: int = 2) -> list[str]:
    """Classes by the average of their best `per_class` candidates, best first (a class with fewer repeats its
    last)."""
    by_class: dict[str, list[float]] = defaultdict(list)
    for c in candidates:
        if len(by_class[c.entry.category]) < per_class:
            by_class[c.entry.category].append(c.score)
    mean = {k: (sum(v) + (per_class - len(v)) * v[-1]) / per_class for k, v in by_class.items()}
    return sorted(mean, key=lambda k: (mean[k], k), reverse=True)


def class_vote(candidates: Sequence[Candidate], per_class: int = 2) -> str:
    return class_ranking(candidates, per_class)[0]


def char_similarity(data: Dataset) -> np.ndarray:
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    rows = vec.fit_transform([e.description for e in data.catalog.entries])
    return (vec.transform(data.texts) @ rows.T).toarray()


def bench_fusion(char_sim: np.ndarray) -> FusionParams:
    """Char n-grams and the embedding only, each worth the same per standard deviation (measured without labels)."""
    spread = float(char_sim.std(axis=1).mean())
    return replace(FusionParams.load(), char=1.0, bm25=0.0, concept=0.0, dense=spread)


def private_settings(base: Settings, home: Path) -> Settings:
    """A throwaway home (index cache and all) that borrows the built models (base and adapted)."""
    adapted, _ = ensure_adapted_model(base.models_dir)
    (home / "models").mkdir(parents=True, exist_ok=True)
    for name in (DEFAULT_MODEL_DIRNAME, adapted.name):
        os.symlink(adapted.parent / name, home / "models" / name)
    return replace(base, home=home)


def rank_classes(
    settings: Settings,
    data: Dataset,
    embedder: Embedder,
    fusion: FusionParams,
    rows: list[int],
    examples: dict[str, list[str]] | None = None,
) -> list[list[str]]:
    """Classes best first, for each of `rows`."""
    matcher = Matcher(
        catalog=data.catalog,
        embedder=embedder,
        settings=settings,
        fusion=fusion,
        examples=copy.deepcopy(examples or {}),
    )
    return [class_ranking(m.candidates) for m in matcher.match([data.texts[i] for i in rows], top_k=CANDIDATES)]


def classify(
    settings: Settings,
    data: Dataset,
    embedder: Embedder,
    fusion: FusionParams,
    rows: list[int],
    examples: dict[str, list[str]] | None = None,
) -> list[str]:
    """Predicted classes for `rows`."""
    return [r[0] for r in rank_classes(settings, data, embedder, fusion, rows, examples)]


def accuracy_and_mrr(gold: list[str], rankings: list[list[str]]) -> tuple[float, float]:
    """Top-1 accuracy, then the mean reciprocal rank of the gold class (0 when absent): `lvzhi train`'s
    (top-1, MRR) validation key, at the level of classes."""
    top1 = sum(r[:1] == [g] for g, r in zip(gold, rankings)) / len(gold)
    mrr = sum(1 / (r.index(g) + 1) if g in r else 0.0 for g, r in zip(gold, rankings)) / len(gold)
    return top1, mrr


def fit_vote(
    settings: Settings,
    data: Dataset,
    embedder: Embedder,
    fusion: FusionParams,
    rows: list[int],
    examples: dict[str, list[str]],
) -> WeightFit:
    """The category vote's weight, fitted by leave-one-out on the training messages (which are the examples)
    with the model as it was before fine-tuning on them, as `lvzhi train` does."""
    matcher = Matcher(
        catalog=data.catalog, embedder=embedder, settings=settings, fusion=fusion, examples=copy.deepcopy(examples)
    )
    return fit_category_weight(
        matcher, [data.texts[i] for i in rows], [data.gold[i] for i in rows], predict=class_vote, top_k=CANDIDATES
    )


def training_pairs(
    data: Dataset, rows: np.ndarray, entry_scores: np.ndarray, queries: list[str]
) -> tuple[list[ContrastivePair], dict]:
    """Each training message (in `queries`' form: as the matcher encodes it, as `lvzhi train` learns it) ↔ the
    best-scoring entry of its own class; the best entry of another class is the hard negative. Grouped by positive
    entry, as `lvzhi train` does: no batch holds one entry as two positives. The examples keep the messages as
    written: the matcher prepares them itself."""
    entries = data.catalog.entries
    category = np.array([e.category for e in entries])
    pairs, examples = [], defaultdict(list)
    for i in rows:
        own = category == data.gold[i]
        s = entry_scores[i]
        positive = int(np.flatnonzero(own)[np.argmax(s[own])])
        negative = int(np.flatnonzero(~own)[np.argmax(s[~own])])
        pairs.append(
            ContrastivePair(
                queries[i], entries[positive].text, entries[negative].text, group=entries[positive].id, source="taidi"
            )
        )
        examples[entries[positive].id].append(data.texts[i])
    return pairs, dict(examples)


def zscore(m: np.ndarray) -> np.ndarray:
    return (m - m.mean(axis=1, keepdims=True)) / np.maximum(m.std(axis=1, keepdims=True), 1e-6)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="taidi2020 folder (taxonomy.xlsx, messages.xlsx)"
    )
    parser.add_argument("--home", help="lvzhi home holding the base model (default: LVZHI_HOME or ~/.cache/lvzhi)")
    parser.add_argument("--threads", type=int)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--only-folds", type=int, default=0, help="run just the first N folds (development)")
    parser.add_argument(
        "--epochs",
        type=int,
        default=None,
        help="at most this many epochs (default: as lvzhi train, from the amount of data)",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args(argv)
    if not (args.data / "messages.xlsx").is_file():
        parser.error(f"找不到数据：{args.data}（用 --data 指定 taidi2020 文件夹）")
    started = time.monotonic()
    data = load_dataset(args.data)
    n = len(data.texts)
    print(f"数据：{n} 条留言，{len(data.catalog)} 个三级分类，金标准一级分类 {len(data.classes)} 类", flush=True)

    with tempfile.TemporaryDirectory(prefix="lvzhi-taidi-") as tmp:
        settings = private_settings(load_settings(home=args.home, threads=args.threads), Path(tmp))
        # Encoded and fine-tuned at the lengths lvzhi classify and lvzhi train use (long messages are cut there too).
        base = load_embedder(settings, use_registry=False)
        char_sim = char_similarity(data)
        fusion = bench_fusion(char_sim)
        categories = [e.category for e in data.catalog.entries]
        results: dict[str, tuple[float, float]] = {}

        # Baselines.
        results["char_tfidf"] = scores(data.gold, [categories[j] for j in char_sim.argmax(axis=1)], data.classes)
        queries = base.encode_queries([t[:DENSE_BASELINE_CHARS] for t in data.texts])
        passages = base.encode_passages([e.description for e in data.catalog.entries])
        dense_sim = queries @ passages.T
        results["dense_e5"] = scores(data.gold, [categories[j] for j in dense_sim.argmax(axis=1)], data.classes)
        folds = list(StratifiedKFold(args.folds, shuffle=True, random_state=args.seed).split(data.texts, data.gold))
        svc_pred = [""] * n
        for train_rows, test_rows in folds:
            vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
            x = vec.fit_transform([data.texts[i] for i in train_rows])
            clf = LinearSVC(random_state=args.seed).fit(x, [data.gold[i] for i in train_rows])
            for i, p in zip(test_rows, clf.predict(vec.transform([data.texts[i] for i in test_rows]))):
                svc_pred[i] = p
        results["tfidf_svc"] = scores(data.gold, svc_pred, data.classes)
        print(f"基线计算完成（{time.monotonic() - started:.0f} 秒）", flush=True)

        # Zero-shot.
        zero_pred = classify(settings, data, base, fusion, list(range(n)))
        results["zero_shot"] = scores(data.gold, zero_pred, data.classes)
        print(
            f"零样本：准确率 {results['zero_shot'][0]:.3f}，宏平均 F1 {results['zero_shot'][1]:.3f}"
            f"（{time.monotonic() - started:.0f} 秒）",
            flush=True,
        )

        # Retrained, cross-validated: the held-out fold is never seen by fine-tuning nor by the index.
        entry_scores = zscore(char_sim) + zscore(dense_sim)
        queries = Matcher(catalog=data.catalog, embedder=None, settings=settings, fusion=fusion).query_forms(data.texts)
        retrained_pred: dict[int, str] = {}
        config = FinetuneConfig(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            seed=args.seed,
            progress=False,
        )
        promoted = 0
        kept_epochs: list[int] = []  # per fold; 0 = the fine-tuned model was refused
        kept_mixes: list[float] = []  # per fold: the share of the kept epoch's change kept; 0 = refused
        for k, (train_rows, test_rows) in enumerate(folds[: args.only_folds or None], start=1):
            # As `lvzhi train`: a fifth of the training messages is validation, never trained on; the fine-tuned
            # model is kept only if it is not worse there, otherwise the examples and the vote serve the old one.
            fit_rows, val_rows = train_test_split(
                list(train_rows),
                test_size=VALIDATION_FRACTION,
                random_state=args.seed,
                stratify=[data.gold[i] for i in train_rows],
            )
            pairs, fit_examples = training_pairs(data, np.asarray(fit_rows), entry_scores, queries)
            _, examples = training_pairs(data, train_rows, entry_scores, queries)
            vote = fit_vote(settings, data, base, fusion, list(train_rows), examples)
            voting = replace(fusion, category_examples=vote.weight)
            tuned = replace(base, model=copy.deepcopy(base.model), identity=f"{base.identity}+taidi-fold{k}")
            val_gold = [data.gold[i] for i in val_rows]

            def judge(
                snapshot: Snapshot,
                tuned=tuned,
                val_gold=val_gold,
                voting=voting,
                val_rows=val_rows,
                fit_examples=fit_examples,
            ) -> tuple[float, float]:
                # This fold's model and data, bound now. Each snapshot's weights are a different model: a fresh
                # identity keeps the index cache apart.
                model = replace(tuned, identity=f"{tuned.identity}-{snapshot.key}")
                return accuracy_and_mrr(val_gold, rank_classes(settings, data, model, voting, val_rows, fit_examples))

            stats = finetune(tuned, pairs, config, judge=judge)
            tuned = replace(tuned, identity=f"{tuned.identity}-{stats.kept.key}")
            before = accuracy_and_mrr(val_gold, rank_classes(settings, data, base, voting, val_rows, fit_examples))
            after = stats.kept_score
            keep = after[0] >= before[0] and after[1] >= before[1]  # lvzhi train: neither top-1 nor MRR dropped
            kept_epochs.append(stats.kept_epoch if keep else 0)
            kept_mixes.append(stats.kept_mix if keep else 0.0)
            promoted += keep
            predicted = classify(settings, data, tuned if keep else base, voting, list(test_rows), examples)
            for i, p in zip(test_rows, predicted):
                retrained_pred[i] = p
            del tuned
            done = sorted(retrained_pred)
            acc, f1 = scores([data.gold[i] for i in done], [retrained_pred[i] for i in done], data.classes)
            print(
                f"第 {k}/{len(folds)} 折：训练 {stats.steps} 步（{stats.seconds:.0f} 秒，损失 {stats.first_loss:.2f}"
                f"→{stats.last_loss:.2f}；各轮验证 {' / '.join(f'{a:.3f}（{m:.3f}）' for a, m in stats.epoch_scores)}，"
                f"取第 {stats.kept_epoch} 轮，改动保留 {stats.kept_mix:.0%}），"
                f"验证准确率（MRR）{before[0]:.3f}（{before[1]:.3f}）→{after[0]:.3f}（{after[1]:.3f}），{'启用新模型' if keep else '保留原模型'}；"
                f"{vote.reason}；累计准确率 {acc:.3f}，宏平均 F1 {f1:.3f}（{time.monotonic() - started:.0f} 秒）",
                flush=True,
            )
        done = sorted(retrained_pred)
        results["retrained"] = scores([data.gold[i] for i in done], [retrained_pred[i] for i in done], data.classes)

    seconds = time.monotonic() - started
    print()
    print(f"{'方法':<34}{'准确率':>8}{'宏平均F1':>10}{'README':>16}")
    labels = [
        ("zero_shot", "lvzhi 零样本（类别投票）"),
        ("retrained", f"lvzhi 训练后（{args.folds} 折交叉验证）"),
        ("char_tfidf", "基线：字符 TF-IDF 最近行"),
        ("dense_e5", "基线：e5 向量最近行（默认适配模型）"),
        ("tfidf_svc", f"基线：TF-IDF + LinearSVC（{args.folds} 折）"),
    ]
    for key, label in labels:
        acc, f1 = results[key]
        readme = README_BASELINES.get(key)
        readme_text = "" if readme is None else f"{readme[0]:.3f}/{readme[1]:.3f}" if readme[1] else f"{readme[0]:.3f}"
        print(f"{label:<30}{acc:>10.3f}{f1:>10.3f}{readme_text:>16}")
    summary = {
        "zero_shot_accuracy": round(results["zero_shot"][0], 4),
        "zero_shot_macro_f1": round(results["zero_shot"][1], 4),
        "retrained_accuracy": round(results["retrained"][0], 4),
        "retrained_macro_f1": round(results["retrained"][1], 4),
        "baseline_char_tfidf_accuracy": round(results["char_tfidf"][0], 4),
        "baseline_char_tfidf_macro_f1": round(results["char_tfidf"][1], 4),
        "baseline_dense_e5_accuracy": round(results["dense_e5"][0], 4),
        "baseline_dense_e5_macro_f1": round(results["dense_e5"][1], 4),
        "baseline_tfidf_svc_accuracy": round(results["tfidf_svc"][0], 4),
        "baseline_tfidf_svc_macro_f1": round(results["tfidf_svc"][1], 4),
        "readme_baselines": {k: list(v) for k, v in README_BASELINES.items()},
        "messages": n,
        "retrained_messages": len(done),
        "folds": args.folds,
        "epochs": args.epochs or "auto",
        "kept_epochs": kept_epochs,
        "kept_mix": kept_mixes,
        "folds_with_fine_tuned_model": promoted,
        "seconds": round(seconds, 1),
    }
    if args.json_out:
        args.json_out.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps(summary, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
