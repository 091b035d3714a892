"""A static stand-in for the transformer's query vectors: one learned vector per token, averaged.

Encoding a ticket with the transformer costs tens of milliseconds on two cores; looking up and averaging its
tokens' vectors costs microseconds. The vectors are distilled from the transformer (training/distill.py) so that
the average lands near the transformer's own query vector for the same text, in the same space: entries stay
encoded by the transformer, and the two kinds of vector can be compared directly. It is only as good as a bag of
tokens can be (word order and context are gone), which is why `--fast` sends the texts it is unsure of on to the
transformer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.e5_rebuild import sha256_of

VECTORS_NAME = "token_vectors.npy"
ROWS_NAME = "token_rows.npy"
BIAS_NAME = "bias.npy"
MANIFEST_NAME = "manifest.json"
MAX_TOKENS = 254  # the transformer's 256 less its two special tokens


@dataclass
class StaticQueryEncoder:
    rows: np.ndarray  # tokenizer id -> row of `vectors`, -1 for a token without a vector (it is skipped)
    vectors: np.ndarray  # (tokens, dim) float32
    bias: np.ndarray  # (dim,) what the transformer's query prefix and special tokens add to every text
    tokenizer: object  # the transformer's own (a transformers tokenizer); ids index `rows`
    identity: str  # names the teacher and the distillation; changes exactly when the vectors would

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def token_rows(self, texts: list[str]) -> list[np.ndarray]:
        """For each text, the rows of the tokens it has vectors for."""
        out = []
        for seq in token_ids(self.tokenizer, texts):
            r = self.rows[np.asarray(seq, dtype=np.int64)] if seq else np.zeros(0, dtype=np.int64)
            out.append(r[r >= 0])
        return out

    def encode(self, texts: list[str], batch_size: int = 0) -> np.ndarray:
        """Unit vectors, one per text (batch_size is accepted for the embedder's signature and unused)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        rows = self.token_rows(texts)
        lengths = np.array([len(r) for r in rows])
        filled = np.flatnonzero(lengths)
        if len(filled):
            flat = np.concatenate([rows[i] for i in filled])
            starts = np.concatenate([[0], np.cumsum(lengths[filled])[:-1]])
            out[filled] = np.add.reduceat(self.vectors[flat], starts, axis=0) / lengths[filled, None]
        out += self.bias
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def save(self, folder: Path, manifest: dict) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / VECTORS_NAME, self.vectors.astype(np.float32))
        np.save(folder / ROWS_NAME, self.rows.astype(np.int32))
        np.save(folder / BIAS_NAME, self.bias.astype(np.float32))
        # The checksum lets a later load tell a damaged or half-copied folder from a good one.
        manifest = {**manifest, "vectors_sha256": sha256_of(folder / VECTORS_NAME)}
        (folder / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path, tokenizer: object, identity: str) -> StaticQueryEncoder:
        vectors = np.load(folder / VECTORS_NAME)
        rows = np.load(folder / ROWS_NAME).astype(np.int64)
        bias = np.load(folder / BIAS_NAME)
        if vectors.ndim != 2 or bias.shape != (vectors.shape[1],) or rows.max(initial=-1) >= len(vectors):
            raise ValueError(f"静态向量文件不一致：{folder}")
        return cls(
            rows=rows,
            vectors=vectors.astype(np.float32),
            bias=bias.astype(np.float32),
            tokenizer=tokenizer,
            identity=identity,
        )


def token_ids(tokenizer, texts: list[str]) -> list[list[int]]:
    """The transformer's token ids of each text, without special tokens, cut where the transformer cuts."""
    return tokenizer(list(texts), add_special_tokens=False, truncation=True, max_length=MAX_TOKENS)["input_ids"]


def read_manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
