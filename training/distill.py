"""Distilling the transformer's query vectors into per-token vectors (models/static_embedder.py), at first use.

The student is taught on text the product already ships, nothing labelled: the concept lexicon's phrases (and
random mixes of its colloquial sayings, since callers name two or three matters at once), the reference list's
names, descriptions and description clauses, the segmentation dictionary, and jieba's commonest words. Each text
goes through the matcher's own cleaning and concept expansion, exactly as a ticket would, and the transformer's
query vector for it is the target.

Two steps. Each token first gets the transformer's vector for that token alone (so tokens the texts above never
use still point somewhere sensible); then all token vectors and one shared bias are fitted so that a text's
average lands on the transformer's vector (cosine loss, Adam, fixed seed). About three minutes on two cores, once
per model: the folder is named after the transformer's identity, so a retrained or replaced model gets its own.
"""

from __future__ import annotations

import hashlib
import random
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from corpus.catalogs import load_reference_catalog
from corpus.lexicon import Lexicon
from corpus.schema import Catalog
from corpus.training_corpus import load_training_corpus
from models.e5_rebuild import build_lock, replace_dir, sha256_of
from models.lexical import DATA_DIR
from models.static_embedder import VECTORS_NAME, StaticQueryEncoder, read_manifest, token_ids

STATIC_DIRNAME = "static"
# Bump whenever the recipe below would distil different vectors from the same teacher and texts.
RECIPE_VERSION = 2  # 2: teacher texts in Matcher.query_forms' form (cleaned, no added official terms)
_CJK_WORD = re.compile(r"[\u4e00-\u9fff]{2,}")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CLAUSE = re.compile(r"[；;。，,、（）()：:]")


@dataclass(frozen=True)
class DistillConfig:
    common_words: int = 20_000  # jieba's commonest multi-character words
    saying_mixes: int = 4_000
    epochs: int = 6  # validation cosine stops rising after about five
    batch_size: int = 128
    learning_rate: float = 3e-3
    seed: int = 0


RECIPE = DistillConfig()


def _jieba_dictionary() -> Path:
    import jieba

    return Path(jieba.__file__).parent / "dict.txt"


def _common_words(limit: int) -> list[str]:
    words = []
    with open(_jieba_dictionary(), encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 2 and _CJK_WORD.fullmatch(parts[0]):
                words.append((-int(parts[1]), parts[0]))
    return [w for _, w in sorted(words)[:limit]]


def distillation_texts(lexicon: Lexicon, catalog: Catalog, config: DistillConfig = RECIPE) -> list[str]:
    """The raw texts the student learns from, in a fixed order."""
    texts = _bundled_texts(lexicon, catalog, config) + _common_words(config.common_words)
    return list(dict.fromkeys(t.strip() for t in texts if t.strip()))


def distillation_data_hash(lexicon: Lexicon, catalog: Catalog, config: DistillConfig = RECIPE) -> str:
    """Changes whenever distillation_texts would; cheap, since jieba's dictionary is named by its size, not read."""
    digest = hashlib.sha256(repr(config).encode())
    digest.update(f"{_jieba_dictionary().stat().st_size}\n".encode())
    digest.update("\n".join(_bundled_texts(lexicon, catalog, config)).encode())
    return digest.hexdigest()


def _bundled_texts(lexicon: Lexicon, catalog: Catalog, config: DistillConfig) -> list[str]:
    rng = random.Random(config.seed)
    texts: list[str] = []
    for index in (lexicon.concepts, lexicon.out_of_scope):
        for concept in index.concepts:
            texts.extend(concept.phrases)
    sayings = [p for c in lexicon.concepts.concepts for p in c.colloquial]
    if sayings:
        for _ in range(config.saying_mixes):
            texts.append("，".join(rng.choice(sayings) for _ in range(rng.randint(1, 3))))
    for e in catalog.entries:
        texts.extend([e.name, e.text, *e.aliases])
        texts.extend(c for c in _CLAUSE.split(e.description) if len(c) >= 4)
    # Tickets as people write them: the teacher was trained on these, and a bag of tokens only learns to follow it
    # on the kind of text it is shown.
    texts.extend(item.text for item in load_training_corpus())
    userdict = DATA_DIR / "userdict.txt"
    if userdict.exists():
        texts.extend(line.split()[0] for line in userdict.read_text(encoding="utf-8").splitlines() if line.strip())
    return texts


def _single_token_vectors(embedder, vocab_ids: list[int]) -> np.ndarray:
    """Each token alone, in query form, through the transformer (mean-pooled as sentence-transformers does)."""
    import torch

    tok = embedder.model.tokenizer
    body = embedder.model[0].auto_model
    prefix = tok(embedder.query_prefix, add_special_tokens=False)["input_ids"]
    out = np.zeros((len(vocab_ids), embedder.dim), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, len(vocab_ids), 1024):
            chunk = vocab_ids[s : s + 1024]
            x = torch.tensor([[tok.cls_token_id, *prefix, t, tok.sep_token_id] for t in chunk])
            h = body(input_ids=x, attention_mask=torch.ones_like(x)).last_hidden_state.mean(dim=1)
            out[s : s + len(chunk)] = torch.nn.functional.normalize(h, dim=-1).numpy()
    return out


def distill(embedder, texts: list[str], config: DistillConfig = RECIPE, report=None) -> tuple[StaticQueryEncoder, dict]:
    """A static encoder fitted to `embedder`'s query vectors of `texts` (already in Matcher.query_forms' form)."""
    import torch

    say = report or (lambda _m: None)
    started = time.monotonic()
    tok = embedder.model.tokenizer
    teacher = embedder.encode_queries(texts, batch_size=128)
    ids = token_ids(tok, texts)
    vocab = sorted({i for seq in ids for i in seq} | {i for p, i in tok.get_vocab().items() if _CJK.search(p)})
    rows = np.full(max(len(tok), max(vocab, default=0) + 1), -1, dtype=np.int64)
    rows[vocab] = np.arange(len(vocab))
    say(
        f"蒸馏静态词元向量：教师向量 {len(texts)} 条已算好（{time.monotonic() - started:.0f} 秒），"
        f"正在初始化 {len(vocab)} 个词元并训练 {config.epochs} 轮……"
    )
    init = _single_token_vectors(embedder, vocab)

    torch.manual_seed(config.seed)
    table = torch.nn.EmbeddingBag(len(vocab), embedder.dim, mode="mean")
    with torch.no_grad():
        table.weight.copy_(torch.from_numpy(init))
    bias = torch.nn.Parameter(torch.zeros(embedder.dim))
    target = torch.from_numpy(teacher)
    token_rows = [rows[np.asarray(seq, dtype=np.int64)] for seq in ids]
    usable = np.array([i for i, r in enumerate(token_rows) if len(r)])
    optimiser = torch.optim.Adam([table.weight, bias], lr=config.learning_rate)
    order_rng = np.random.default_rng(config.seed)
    loss = torch.tensor(0.0)
    for _ in range(config.epochs):
        order = order_rng.permutation(usable)
        for s in range(0, len(order), config.batch_size):
            batch = order[s : s + config.batch_size]
            flat = torch.from_numpy(np.concatenate([token_rows[i] for i in batch]))
            offsets = torch.from_numpy(np.cumsum([0] + [len(token_rows[i]) for i in batch[:-1]]))
            pred = torch.nn.functional.normalize(table(flat, offsets) + bias, dim=-1)
            loss = (1 - (pred * target[batch]).sum(dim=1)).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    encoder = StaticQueryEncoder(
        rows=rows,
        vectors=table.weight.detach().numpy().copy(),
        bias=bias.detach().numpy().copy(),
        tokenizer=tok,
        identity="",
    )
    stats = {
        "texts": len(texts),
        "tokens": len(vocab),
        "final_loss": round(loss.item(), 4),
        "seconds": round(time.monotonic() - started, 1),
    }
    return encoder, stats


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _identity(teacher_identity: str, data_hash: str) -> str:
    return hashlib.sha256(f"{teacher_identity}|{RECIPE_VERSION}|{data_hash}".encode()).hexdigest()[:16]


def _is_current(folder: Path, identity: str) -> bool:
    manifest = read_manifest(folder)
    return (
        manifest is not None
        and manifest.get("identity") == identity
        and (folder / VECTORS_NAME).is_file()
        and sha256_of(folder / VECTORS_NAME) == manifest.get("vectors_sha256")
    )


def ensure_static_encoder(matcher, report=_to_stderr) -> StaticQueryEncoder:
    """The static encoder distilled from the matcher's transformer (distilled here when missing or stale)."""
    embedder = matcher.embedder
    models_dir = Path(matcher.settings.models_dir)
    catalog = load_reference_catalog()
    data_hash = distillation_data_hash(matcher.lexicon, catalog)
    identity = _identity(embedder.identity, data_hash)
    target = models_dir / STATIC_DIRNAME / identity
    target.parent.mkdir(parents=True, exist_ok=True)
    with build_lock(models_dir):
        if not _is_current(target, identity):
            raw = distillation_texts(matcher.lexicon, catalog)
            report(
                f"首次使用静态词元向量（快速批量与归并用）：正从当前模型蒸馏（{len(raw)} 条内置文本；2 核约需四分钟，"
                "每个模型只做一次）……"
            )
            texts = list(dict.fromkeys(matcher.query_forms(raw)))
            encoder, stats = distill(embedder, texts, RECIPE, report)
            work = Path(tempfile.mkdtemp(prefix=".static-", dir=target.parent))
            try:
                out = work / identity
                manifest = {
                    "identity": identity,
                    "teacher": embedder.identity,
                    "recipe": RECIPE_VERSION,
                    "data_hash": data_hash,
                    **stats,
                }
                encoder.save(out, manifest)
                replace_dir(out, target)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            report(f"静态向量蒸馏完成：{stats['tokens']} 个词元，{stats['seconds']:.0f} 秒")
    return StaticQueryEncoder.load(target, embedder.model.tokenizer, identity)
