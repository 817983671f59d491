"""``xlc run``: data -> hidden states -> concept vectors -> recognition, transfer, consistency.

Writes a run folder (every file atomically; see the README for the format):

- ``transfer.csv``     concept, source, target, layer, accuracy, n_test (source == target: recognition)
- ``consistency.csv``  concept, source, target, layer, cosine
- ``baseline.csv``     concept, language, layer, accuracy, accuracy_std, n_directions (random directions)
- ``split.json``       {concept: {"train": [keys], "test": [keys]}}
- ``vectors.safetensors``  "<concept>/<lang>" -> [L, D] concept vectors (for steering and reuse)
- ``outcomes.npz``     per-item outcomes "<concept>/correct" [S, T, N, L] and test keys, for bootstraps
- ``run.json``         model, identity, template, token rule, method, seeds, data hash, versions, timings
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from xlc import __version__
from xlc import data as D
from xlc import metrics, models, vectors
from xlc.cache import ActivationCache
from xlc.errors import XlcError
from xlc.io import atomic_path, write_csv, write_json


@dataclass
class RunConfig:
    model: str = "minilm"
    data: str | None = None  # None: the bundled data set
    concepts: list[str] | None = None
    langs: list[str] | None = None
    method: str = "mean_diff"
    token: str = "last"
    template: str = "auto"  # auto: the model family's, else raw
    family: str | None = "auto"  # auto: detected from a paper model id; "none" to ignore
    out: str | None = None
    test_size: float = 0.2
    seed: int = 0
    split: str | None = None  # a split.json to reuse
    batch_size: int = 32
    padding_side: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    device_map: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    cache: str | None = None
    baseline_directions: int = 16
    progress: bool = True
    log: object = field(default="stderr", repr=False)  # a stream, "stderr", or None for silence


def _say(cfg: RunConfig, msg: str) -> None:
    if cfg.log is not None:
        print(msg, file=sys.stderr if cfg.log == "stderr" else cfg.log)


def select(cfg: RunConfig, root: Path, fam: dict | None) -> tuple[list[str], dict[str, list[str]]]:
    """The concepts and, per concept, the languages of this run; errors name the option and the fix."""
    found = D.discover(root)
    concepts = cfg.concepts or [c for c in D.CONCEPTS if c in found] + sorted(set(found) - set(D.CONCEPTS))
    for c in concepts:
        if c not in found:
            raise XlcError(f"unknown concept {c!r} (--concepts): no folder {root / c}; found: {', '.join(found)}")
    all_langs = {l for c in concepts for l in found[c]}
    excluded = set(fam["excluded_languages"]) if fam else set()
    langs_for = {}
    if cfg.langs:
        for l in cfg.langs:
            if l not in all_langs:
                raise XlcError(f"unknown language {l!r} (--langs): no <concept>_{l}.json in {root}; "
                               f"found: {', '.join(D.order_languages(all_langs))}")
        for c in concepts:  # an explicit language must exist for every concept: load_pairs says which file
            langs_for[c] = [l for l in cfg.langs if l not in excluded]
    else:
        for c in concepts:
            langs_for[c] = D.order_languages(l for l in found[c] if l not in excluded)
    for c, langs in langs_for.items():
        if not langs:
            raise XlcError(f"concept {c!r}: no languages left to run (after family exclusions); check --langs/--family")
    return concepts, langs_for


def run(cfg: RunConfig) -> Path:
    """Run the pipeline and return the run folder. Raises XlcError on bad input before writing."""
    t0 = time.perf_counter()
    if cfg.method not in vectors.METHODS:
        raise XlcError(f"--method {cfg.method}: use one of {', '.join(vectors.METHODS)}")
    root = Path(cfg.data) if cfg.data else D.bundled_root()
    family_name = models.family_of(cfg.model) if cfg.family == "auto" else cfg.family
    fam = models.family(family_name)
    concepts, langs_for = select(cfg, root, fam)

    # read and validate every file before any model work
    pairs = {c: {l: D.load_pairs(root, c, l) for l in langs_for[c]} for c in concepts}
    if cfg.split:
        splits = D.read_split(cfg.split)
        missing = [c for c in concepts if c not in splits]
        if missing:
            raise XlcError(f"{cfg.split}: no split for concept(s) {', '.join(missing)}; rerun without --split")
    else:
        splits = {c: D.make_split({k for ps in pairs[c].values() for k in ps.keys}, c, cfg.test_size, cfg.seed)
                  for c in concepts}
    partial = {}
    for c in concepts:
        every = {k for ps in pairs[c].values() for k in ps.keys}
        gaps = {k: sorted(l for l, ps in pairs[c].items() if k not in set(ps.keys)) for k in every}
        gaps = {k: v for k, v in sorted(gaps.items()) if v}
        if gaps:
            partial[c] = gaps
            _say(cfg, f"note: {c}: {len(gaps)} item(s) missing in some languages (listed in run.json)")

    spec = models.resolve(cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, seed=cfg.seed)
    device = models.resolve_device(cfg.device) if not cfg.device_map else "auto"
    dtype = str(models.resolve_dtype(cfg.dtype, device if device != "auto" else "cuda")).replace("torch.", "")
    template_name = cfg.template if cfg.template != "auto" else (fam["name"] if fam and fam["name"] in models.TEMPLATES else "raw")
    state = {"model": None, "tokenizer": None}

    def loaded():
        if state["model"] is None:
            _say(cfg, f"loading {spec.name} ({spec.source}) on {device}, {dtype}")
            state["model"], state["tokenizer"] = models.load(spec, dtype=dtype, device=cfg.device,
                                                            device_map=cfg.device_map)
        return state["model"], state["tokenizer"]

    if template_name == "chat":
        from transformers import AutoTokenizer
        template = models.template_for("chat", AutoTokenizer.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code))
    else:
        template = models.template_for(template_name)
    identity = {"model": spec.identity, "template": template, "token": cfg.token, "dtype": dtype}
    cache = ActivationCache(cfg.cache)
    timings = {"setup_s": time.perf_counter() - t0, "extract_s": 0.0, "analysis_s": 0.0}
    counts = {"cache_hits": 0, "cache_misses": 0, "texts_forwarded": 0}

    rows_t, rows_c, rows_b, vecs, outcomes = [], [], [], {}, {}
    for c in tqdm(concepts, desc="concepts", unit="concept", disable=not cfg.progress):
        t1 = time.perf_counter()
        states = _states(cfg, c, pairs[c], identity, cache, loaded, template, counts)
        t2 = time.perf_counter()
        timings["extract_s"] += t2 - t1
        _analyse(cfg, c, pairs[c], states, splits[c], rows_t, rows_c, rows_b, vecs, outcomes)
        timings["analysis_s"] += time.perf_counter() - t2

    out = Path(cfg.out) if cfg.out else Path("results") / spec.slug
    used_files = [ps.path for c in concepts for ps in pairs[c].values()]
    timings["total_s"] = time.perf_counter() - t0
    record = {
        "xlc_version": __version__,
        "model": spec.name, "model_source": spec.source, "model_path": str(spec.path),
        "revision": spec.revision, "model_identity": spec.identity,
        "num_parameters": models.count_parameters(spec.path),
        "num_layers": int(next(iter(vecs.values())).shape[0]), "hidden_size": int(next(iter(vecs.values())).shape[1]),
        "family": fam["name"] if fam else None,
        "excluded_languages": sorted(set(fam["excluded_languages"])) if fam else [],
        "template": template, "template_name": template_name, "token": cfg.token, "method": cfg.method,
        "dtype": dtype, "device": device, "seed": cfg.seed, "test_size": cfg.test_size,
        "split_from": cfg.split, "baseline_directions": cfg.baseline_directions,
        "data": str(root), "data_bundled": cfg.data is None, "data_hash": D.files_hash(used_files),
        "concepts": concepts, "languages": {c: langs_for[c] for c in concepts},
        "pairs": {c: {l: len(ps) for l, ps in pairs[c].items()} for c in concepts},
        "dropped_pairs": {c: {l: ps.dropped for l, ps in pairs[c].items() if ps.dropped} for c in concepts},
        "dropped_pair_count": sum(len(ps.dropped) for c in concepts for ps in pairs[c].values()),
        "partial_items": partial,
        "counts": counts, "timings": timings,
        "versions": _versions(),
    }
    _write(out, rows_t, rows_c, rows_b, splits, concepts, vecs, outcomes, record)
    _say(cfg, f"wrote {out} ({counts['texts_forwarded']} texts forwarded, {counts['cache_hits']} cache hits, "
              f"{timings['total_s']:.1f} s)")
    return out


def _states(cfg, concept, pairsets, identity, cache, loaded, template, counts) -> dict[str, np.ndarray]:
    """``{lang: [2N, L, D]}`` (positives then negatives), from the cache or one batched pass."""
    out, todo = {}, {}
    for lang, ps in pairsets.items():
        texts = ps.pos + ps.neg
        key = cache.key(identity, texts)
        hit = cache.get(key)
        if hit is not None and len(hit) == len(texts):
            out[lang] = hit
            counts["cache_hits"] += 1
        else:
            todo[lang] = (key, texts)
    if todo:
        from xlc.extract import Extractor

        model, tokenizer = loaded()
        extractor = Extractor(model, tokenizer, template=template, token=cfg.token, batch_size=cfg.batch_size,
                              padding_side=cfg.padding_side, progress=cfg.progress)
        # all missing languages of the concept in one sorted pass: less padding, fuller batches
        texts = [t for _, ts in todo.values() for t in ts]
        states = extractor(texts, desc=f"{concept}: {len(todo)} language(s)")
        counts["texts_forwarded"] += len(texts)
        start = 0
        for lang, (key, ts) in todo.items():
            out[lang] = states[start:start + len(ts)]
            start += len(ts)
            cache.put(key, out[lang], {"concept": concept, "lang": lang, "model": identity["model"].get("hub")
                                       or str(identity["model"].get("source")), "n_texts": len(ts)})
            counts["cache_misses"] += 1
    return out


def _analyse(cfg, concept, pairsets, states, split, rows_t, rows_c, rows_b, vecs, outcomes):
    langs = list(pairsets)
    train_d, test_d, test_keys, vec = [], [], [], []
    for lang in langs:
        ps, st = pairsets[lang], states[lang]
        n = len(ps)
        pos, neg = st[:n], st[n:]
        tr_keys, tr_idx = ps.select(split.train)
        te_keys, te_idx = ps.select(split.test)
        if not tr_idx or not te_idx:
            raise XlcError(f"{ps.path}: no {'training' if not tr_idx else 'test'} pairs under the split; "
                           "add items or check --split")
        vec.append(vectors.concept_vectors(pos[tr_idx], neg[tr_idx], cfg.method, cfg.seed, f"{concept}/{lang}"))
        train_d.append(pos[tr_idx] - neg[tr_idx])
        test_d.append(pos[te_idx] - neg[te_idx])
        test_keys.append(te_keys)
    V = np.stack(vec)  # [S, L, D]
    padded, mask = metrics.pad_pairs(test_d)
    acc, correct = metrics.transfer(V, padded, mask)
    cos = metrics.consistency(V)
    S, L = len(langs), V.shape[1]
    n_test = mask.sum(1)
    src, tgt, lay = np.meshgrid(np.arange(S), np.arange(S), np.arange(L), indexing="ij")
    rows_t.append(pd.DataFrame({"concept": concept, "source": np.array(langs)[src.ravel()],
                                "target": np.array(langs)[tgt.ravel()], "layer": lay.ravel() + 1,
                                "accuracy": acc.ravel(), "n_test": n_test[tgt.ravel()]}))
    rows_c.append(pd.DataFrame({"concept": concept, "source": np.array(langs)[src.ravel()],
                                "target": np.array(langs)[tgt.ravel()], "layer": lay.ravel() + 1,
                                "cosine": cos.ravel()}))
    # chance baseline: K seeded random directions per language, sign-calibrated like the others
    K = cfg.baseline_directions
    if K:
        base = np.empty((S, K, L))
        for s, lang in enumerate(langs):
            R = np.stack([vectors.concept_vectors(train_d[s], np.zeros_like(train_d[s]), "random", cfg.seed + k,
                                                  f"{concept}/{lang}") for k in range(K)])
            base[s] = metrics.transfer(R, padded[s:s + 1], mask[s:s + 1])[0][:, 0]
        ls, lk = np.meshgrid(np.arange(S), np.arange(L), indexing="ij")
        rows_b.append(pd.DataFrame({"concept": concept, "language": np.array(langs)[ls.ravel()], "layer": lk.ravel() + 1,
                                    "accuracy": base.mean(1).ravel(), "accuracy_std": base.std(1).ravel(),
                                    "n_directions": K, "n_test": n_test[ls.ravel()]}))
    for s, lang in enumerate(langs):
        vecs[f"{concept}/{lang}"] = V[s]
    outcomes[f"{concept}/correct"] = correct.astype(np.uint8)
    outcomes[f"{concept}/languages"] = np.array(langs)
    for t, lang in enumerate(langs):
        outcomes[f"{concept}/test_keys/{lang}"] = np.array(test_keys[t])


def _write(out, rows_t, rows_c, rows_b, splits, concepts, vecs, outcomes, record):
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "transfer.csv", pd.concat(rows_t, ignore_index=True))
    write_csv(out / "consistency.csv", pd.concat(rows_c, ignore_index=True))
    if rows_b:
        write_csv(out / "baseline.csv", pd.concat(rows_b, ignore_index=True))
    write_json(out / "split.json", {c: asdict(splits[c]) for c in concepts})
    with atomic_path(out / "vectors.safetensors") as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in vecs.items()}, str(tmp))
    with atomic_path(out / "outcomes.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **outcomes)
    write_json(out / "run.json", record)  # last: a run folder with run.json is complete


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "numpy", "scikit-learn", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
