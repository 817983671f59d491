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
from tqdm.auto import tqdm

from xlc import __version__
from xlc import data as D
from xlc import analysis, models, vectors
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


@dataclass
class Plan:
    """Everything a run needs before any model work: validated data, the split, the resolved model
    and the cache identity. ``states(concept)`` gives the hidden states, from the cache or the model."""

    cfg: RunConfig
    root: Path
    fam: dict | None
    concepts: list[str]
    langs_for: dict[str, list[str]]
    pairs: dict[str, dict[str, D.PairSet]]
    splits: dict[str, D.Split]
    partial: dict
    spec: models.ModelSpec
    device: str
    dtype: str
    template_name: str
    template: str
    cache: ActivationCache
    counts: dict = field(default_factory=lambda: {"cache_hits": 0, "cache_misses": 0, "texts_forwarded": 0})
    # {concept: {lang: [L, D] float32}}: sum over all items of (positive - negative), kept with the states
    diff_sums: dict = field(default_factory=dict)
    _loaded: tuple | None = None

    @property
    def identity(self) -> dict:
        return {"model": self.spec.identity, "template": self.template, "token": self.cfg.token, "dtype": self.dtype}

    def model(self):
        """``(model, tokenizer)``, loaded on first use only: a fully cached run never loads weights."""
        if self._loaded is None:
            _say(self.cfg, f"loading {self.spec.name} ({self.spec.source}) on {self.device}, {self.dtype}")
            self._loaded = models.load(self.spec, dtype=self.dtype, device=self.cfg.device,
                                       device_map=self.cfg.device_map)
        return self._loaded

    def states(self, concept: str) -> analysis.ConceptStates:
        """``{lang: [2N, L, D]}`` (positives then negatives, in the order of ``self.pairs``: test pairs
        first), from the cache or one batched pass.

        When every language has the same number of pairs (parallel data), the arrays are views of one
        block ``[S, 2N, L, D]`` (the result's ``block``), filled entry by entry as they load, so that
        the analysis reads the test pairs of every language as one slice.
        """
        pairs = self.pairs[concept]
        langs = list(pairs)
        uniform = len({len(ps) for ps in pairs.values()}) == 1
        block, out, todo = None, {}, {}
        sums = self.diff_sums.setdefault(concept, {})

        def place(s: int, shape: tuple) -> np.ndarray:
            """Where language s's states go: its row of the block, or an array of its own."""
            nonlocal block, uniform
            if uniform and block is None:
                block = np.empty((len(langs),) + tuple(shape), dtype=np.float32)
            if uniform and block.shape[1:] == tuple(shape):
                return block[s]
            uniform = False
            return np.empty(shape, dtype=np.float32)

        for s, (lang, ps) in enumerate(pairs.items()):
            texts = ps.file_texts()  # cached in the file's order: the key does not depend on the split
            key = self.cache.key(self.identity, texts)
            rows = ps.file_rows()  # the file's row of each of our rows; the read scatters them into place
            hit = self.cache.read_into(key, lambda shape, s=s: place(s, shape) if shape[0] == len(texts) else None,
                                       None if rows is None else np.argsort(rows))
            if hit is not None and "pair_diff_sum" in hit[1]:
                out[lang], sums[lang] = hit[0], hit[1]["pair_diff_sum"]
                self.counts["cache_hits"] += 1
            else:
                todo[lang] = (key, ps.pos + ps.neg)
        if todo:
            from xlc.extract import Extractor

            model, tokenizer = self.model()
            extractor = Extractor(model, tokenizer, template=self.template, token=self.cfg.token,
                                  batch_size=self.cfg.batch_size, padding_side=self.cfg.padding_side,
                                  progress=self.cfg.progress)
            # every missing language of the concept in one length-sorted pass: fuller batches, less padding
            texts = [t for _, ts in todo.values() for t in ts]
            states = extractor(texts, desc=f"{concept}: {len(todo)} language(s)")
            self.counts["texts_forwarded"] += len(texts)
            cold = uniform and len(todo) == len(langs)
            if cold:  # nothing was cached: the extractor's output, languages in order, is the block
                block = states.reshape((len(langs), -1) + states.shape[1:])
            start = 0
            for lang, (key, ts) in todo.items():
                part = states[start:start + len(ts)]  # in this plan's item order
                start += len(ts)
                n = len(ts) // 2
                # a running statistic kept with the states: the analysis then reads only the test pairs
                sums[lang] = (part[:n] - part[n:]).sum(0, dtype=np.float64)
                rows = pairs[lang].file_rows()
                self.cache.put(key, part if rows is None else part[np.argsort(rows)],
                               {"concept": concept, "lang": lang, "model": self.spec.name, "n_texts": len(ts)},
                               extras={"pair_diff_sum": sums[lang]})
                if cold:
                    out[lang] = part
                else:
                    out[lang] = place(langs.index(lang), part.shape)
                    out[lang][...] = part
                self.counts["cache_misses"] += 1
        # the sums as float32 rows of one array, in language order: the analysis stacks them without a cast
        stacked = np.stack([sums[lang] for lang in langs], dtype=np.float32)
        self.diff_sums[concept] = {lang: stacked[s] for s, lang in enumerate(langs)}
        return analysis.ConceptStates({lang: out[lang] for lang in langs}, block if uniform else None)


def prepare(cfg: RunConfig) -> Plan:
    """Validate the options and every data file, draw the split and resolve the model (no weights loaded).
    Raises XlcError, naming the file, item or option and the fix, on any bad input."""
    if cfg.method not in vectors.METHODS:
        raise XlcError(f"--method {cfg.method}: use one of {', '.join(vectors.METHODS)}")
    root = Path(cfg.data) if cfg.data else D.bundled_root()
    family_name = models.family_of(cfg.model) if cfg.family == "auto" else cfg.family
    fam = models.family(family_name)
    concepts, langs_for = select(cfg, root, fam)
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
        keysets = {l: set(ps.keys) for l, ps in pairs[c].items()}
        every = set().union(*keysets.values())
        gaps = {k: sorted(l for l, ks in keysets.items() if k not in ks) for k in sorted(every)}
        gaps = {k: v for k, v in gaps.items() if v}
        if gaps:
            partial[c] = gaps
            _say(cfg, f"note: {c}: {len(gaps)} item(s) missing in some languages (listed in run.json)")

    # each language's items in split order, test pairs first: the analysis then reads them as one slice
    # of every language's states (the cache keeps the file's order; Plan.states rearranges on loading)
    pairs = {c: {l: ps.arranged(splits[c].test, splits[c].train) for l, ps in pairs[c].items()} for c in concepts}

    spec = models.resolve(cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, seed=cfg.seed)
    device = models.resolve_device(cfg.device) if not cfg.device_map else "auto"
    dtype = str(models.resolve_dtype(cfg.dtype, device if device != "auto" else "cuda")).replace("torch.", "")
    template_name = cfg.template if cfg.template != "auto" else \
        (fam["name"] if fam and fam["name"] in models.TEMPLATES else "raw")
    if template_name == "chat":
        from transformers import AutoTokenizer

        tok = AutoTokenizer.from_pretrained(spec.path, trust_remote_code=spec.trust_remote_code)
        template = models.template_for("chat", tok)
    else:
        template = models.template_for(template_name)
    return Plan(cfg, root, fam, concepts, langs_for, pairs, splits, partial, spec, device, dtype, template_name,
                template, ActivationCache(cfg.cache))


def run(cfg: RunConfig) -> Path:
    """Run the pipeline and return the run folder. Raises XlcError on bad input before writing."""
    t0 = time.perf_counter()
    plan = prepare(cfg)
    timings = {"setup_s": time.perf_counter() - t0, "extract_s": 0.0, "analysis_s": 0.0}
    results = []
    for c in tqdm(plan.concepts, desc="concepts", unit="concept", disable=not cfg.progress):
        t1 = time.perf_counter()
        states = plan.states(c)
        t2 = time.perf_counter()
        timings["extract_s"] += t2 - t1
        results.append(analysis.analyse_concept(c, plan.pairs[c], states, plan.splits[c], cfg.method, cfg.seed,
                                                cfg.baseline_directions, plan.diff_sums.get(c)))
        timings["analysis_s"] += time.perf_counter() - t2

    spec, fam, pairs, concepts = plan.spec, plan.fam, plan.pairs, plan.concepts
    out = Path(cfg.out) if cfg.out else Path("results") / spec.slug
    used_files = [ps.path for c in concepts for ps in pairs[c].values()]
    timings["total_s"] = time.perf_counter() - t0
    first = results[0].vectors[0]
    record = {
        "xlc_version": __version__,
        "model": spec.name, "model_source": spec.source, "model_path": str(spec.path),
        "revision": spec.revision, "model_identity": spec.identity,
        "num_parameters": models.count_parameters(spec.path),
        "num_layers": int(first.shape[0]), "hidden_size": int(first.shape[1]),
        "family": fam["name"] if fam else None,
        "excluded_languages": sorted(set(fam["excluded_languages"])) if fam else [],
        "template": plan.template, "template_name": plan.template_name, "token": cfg.token, "method": cfg.method,
        "dtype": plan.dtype, "device": plan.device, "seed": cfg.seed, "test_size": cfg.test_size,
        "split_from": cfg.split, "baseline_directions": cfg.baseline_directions,
        "data": str(plan.root), "data_bundled": cfg.data is None, "data_hash": D.files_hash(used_files),
        "concepts": concepts, "languages": {c: plan.langs_for[c] for c in concepts},
        "pairs": {c: {l: len(ps) for l, ps in pairs[c].items()} for c in concepts},
        "dropped_pairs": {c: {l: ps.dropped for l, ps in pairs[c].items() if ps.dropped} for c in concepts},
        "dropped_pair_count": sum(len(ps.dropped) for c in concepts for ps in pairs[c].values()),
        "partial_items": plan.partial,
        "counts": plan.counts, "timings": timings,
        "versions": _versions(),
    }
    _write(out, results, plan.splits, record)
    _say(cfg, f"wrote {out} ({plan.counts['texts_forwarded']} texts forwarded, {plan.counts['cache_hits']} cache hits, "
              f"{timings['total_s']:.1f} s)")
    return out


def _write(out: Path, results: list[analysis.ConceptResult], splits, record: dict) -> None:
    from safetensors.numpy import save_file

    out.mkdir(parents=True, exist_ok=True)
    frames = analysis.tables(results)
    write_csv(out / "transfer.csv", frames["transfer"])
    write_csv(out / "consistency.csv", frames["consistency"])
    if frames["baseline"] is not None:
        write_csv(out / "baseline.csv", frames["baseline"])
    write_json(out / "split.json", {r.concept: asdict(splits[r.concept]) for r in results})
    vecs = {f"{r.concept}/{lang}": np.ascontiguousarray(r.vectors[s]) for r in results
            for s, lang in enumerate(r.languages)}
    with atomic_path(out / "vectors.safetensors") as tmp:
        save_file(vecs, str(tmp))
    with atomic_path(out / "outcomes.npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **analysis.outcomes(results))
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
