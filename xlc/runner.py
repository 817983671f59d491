"""``xlc run``: data -> hidden states -> concept vectors -> recognition, transfer, consistency, intervals.

Writes a run folder through :mod:`xlc.runfolder` (its only writer; see there for the files).
"""

from __future__ import annotations

import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from xlc import __version__, analysis, models, runfolder, surface, vectors
from xlc import data as D
from xlc.cache import ActivationCache
from xlc.errors import XlcError
from xlc.extract import TOKEN_RULES, encode


@dataclass
class RunConfig:
    model: str = "e5-small"
    data: str | None = None  # None: the bundled data set
    concepts: list[str] | None = None
    langs: list[str] | None = None
    method: str = "mean_diff"
    token: str = "auto"  # auto: the model registry's choice, else last
    template: str = "auto"  # auto: the model family's or the registry's, else raw
    family: str | None = "auto"  # auto: detected from a paper model id; "none" to ignore
    out: str | None = None
    protocol: str = "cv"  # cv: k-fold cross-validation; paper: the paper's single split
    folds: int = 5
    test_size: float = 0.2  # the paper's split
    seed: int = 0
    split: str | None = None  # a split.json to reuse
    bootstrap: int = 1000
    batch_size: int = 32
    padding_side: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    device_map: str | None = None
    revision: str | None = None
    trust_remote_code: bool = False
    cache: str | None = None
    chance_directions: int = 16
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
        repeated = sorted({l for l in cfg.langs if cfg.langs.count(l) > 1})
        if repeated:
            raise XlcError(f"--langs: {', '.join(repeated)} given more than once; name each language once")
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
    """Everything a run needs before any model work: validated data, the folds, the resolved model and
    the cache identity. ``states(concept)`` gives the hidden states, from the cache or the model."""

    cfg: RunConfig
    root: Path
    fam: dict | None
    concepts: list[str]
    langs_for: dict[str, list[str]]
    pairs: dict[str, dict[str, D.PairSet]]
    folds: dict[str, D.Folds]
    partial: dict
    spec: models.ModelSpec
    device: str
    dtype: str
    token: str
    template_name: str
    template: str
    cache: ActivationCache
    counts: dict = field(default_factory=lambda: {"cache_hits": 0, "cache_misses": 0, "texts_forwarded": 0})
    _model: tuple | None = None
    _tokenizer: object = None
    _ids: dict = field(default_factory=dict)  # {concept: encodings}

    @property
    def identity(self) -> dict:
        return {"model": self.spec.identity, "template": self.template, "token": self.token, "dtype": self.dtype}

    def model(self):
        """``(model, tokenizer)``, loaded on first use only: a fully cached run never loads weights."""
        if self._model is None:
            _say(self.cfg, f"loading {self.spec.name} ({self.spec.source}) on {self.device}, {self.dtype}")
            self._model = models.load(self.spec, dtype=self.dtype, device=self.cfg.device,
                                      device_map=self.cfg.device_map)
            self._tokenizer = self._model[1]
        return self._model

    def tokenizer(self):
        if self._tokenizer is None:
            self._tokenizer = models.load_tokenizer(self.spec)
        return self._tokenizer

    def states(self, concept: str) -> dict[str, np.ndarray]:
        """``{lang: [2n, L, D]}``: each language's positives then negatives in its file's order, from the
        cache or one length-sorted pass over every language that is missing."""
        out, todo = {}, {}
        for lang, ps in self.pairs[concept].items():
            key = self.cache.key(self.identity, ps.texts)
            hit = self.cache.get(key)
            if hit is not None and len(hit) == len(ps.texts):
                out[lang] = hit
                self.counts["cache_hits"] += 1
            else:
                todo[lang] = key
        if todo:
            from xlc.extract import Extractor

            model, tokenizer = self.model()
            extractor = Extractor(model, tokenizer, template=self.template, token=self.token,
                                  batch_size=self.cfg.batch_size, padding_side=self.cfg.padding_side,
                                  progress=self.cfg.progress)
            texts = [t for lang in todo for t in self.pairs[concept][lang].texts]
            states = extractor(texts, desc=f"{concept}: {len(todo)} language(s)")
            self.counts["texts_forwarded"] += len(texts)
            start = 0
            for lang, key in todo.items():
                n = len(self.pairs[concept][lang].texts)
                out[lang] = states[start:start + n]
                start += n
                self.cache.put(key, out[lang], {"concept": concept, "lang": lang, "model": self.spec.name})
                self.counts["cache_misses"] += 1
        return out

    def encodings(self, concept: str) -> dict[str, list[list[int]]]:
        """``{lang: token ids of each text}`` (positives then negatives), as the model reads them (tokenized once)."""
        if concept not in self._ids:
            tok = self.tokenizer()
            self._ids[concept] = {lang: encode(tok, self.template, ps.texts)["input_ids"]
                                  for lang, ps in self.pairs[concept].items()}
        return self._ids[concept]

    def data(self, concept: str) -> tuple[analysis.ConceptData, dict[str, int]]:
        """The concept's aligned states, and per language the number of pairs whose two texts give the same
        token ids (their states can differ only by float noise: scored as exact ties)."""
        pairs = self.pairs[concept]
        ids = self.encodings(concept)
        tied = {lang: np.array([ids[lang][i] == ids[lang][i + len(ps)] for i in range(len(ps))], dtype=bool)
                for lang, ps in pairs.items()}
        data = analysis.assemble(concept, list(pairs), {l: ps.keys for l, ps in pairs.items()}, self.states(concept),
                                 tied, self.folds[concept])
        return data, {lang: int(t.sum()) for lang, t in tied.items()}

    def unk_share(self) -> dict[str, float]:
        """Per language, the share of its tokens (all concepts) that are the tokenizer's unknown token."""
        unk = self.tokenizer().unk_token_id
        counts: dict[str, list[int]] = {}
        for c in self.concepts:
            for lang, ids in self.encodings(c).items():
                n = counts.setdefault(lang, [0, 0])
                n[0] += sum(x == unk for row in ids for x in row) if unk is not None else 0
                n[1] += sum(len(row) for row in ids)
        return {lang: round(u / max(t, 1), 6) for lang, (u, t) in counts.items()}


def prepare(cfg: RunConfig) -> Plan:
    """Validate the options and every data file, draw the folds and resolve the model (no weights loaded).
    Raises XlcError, naming the file, item or option and the fix, on any bad input."""
    if cfg.method not in vectors.METHODS:
        raise XlcError(f"--method {cfg.method}: use one of {', '.join(vectors.METHODS)}")
    if cfg.protocol not in D.PROTOCOLS:
        raise XlcError(f"--protocol {cfg.protocol}: use one of {', '.join(D.PROTOCOLS)}")
    if cfg.bootstrap < 0 or cfg.chance_directions < 0 or cfg.batch_size < 1:
        raise XlcError("--bootstrap and --chance-directions must be at least 0, --batch-size at least 1")
    root = Path(cfg.data) if cfg.data else D.bundled_root()
    family_name = models.family_of(cfg.model) if cfg.family == "auto" else cfg.family
    fam = models.family(family_name)
    concepts, langs_for = select(cfg, root, fam)
    pairs = {c: {l: D.load_pairs(root, c, l) for l in langs_for[c]} for c in concepts}
    if cfg.split:
        folds = D.read_split(cfg.split)
        missing = [c for c in concepts if c not in folds]
        if missing:
            raise XlcError(f"{cfg.split}: no split for concept(s) {', '.join(missing)}; rerun without --split")
    else:
        make = (lambda keys, c: D.make_folds(keys, c, cfg.folds, cfg.seed)) if cfg.protocol == "cv" else \
            (lambda keys, c: D.make_split(keys, c, cfg.test_size, cfg.seed))
        folds = {c: make({k for ps in pairs[c].values() for k in ps.keys}, c) for c in concepts}
    folds = {c: folds[c] for c in concepts}
    for c in concepts:  # every fold a language tests must leave it items to train on
        for ps in pairs[c].values():
            where = folds[c].index(ps.keys)
            for k, tested in enumerate(folds[c].tested):
                if tested and not ((where >= 0) & (where != k)).any():
                    raise XlcError(f"{ps.path}: every item in the split is in fold {k + 1}, so nothing is left to fit "
                                   f"the vectors it is tested on; add items, use fewer --folds, or check --split")
    partial = {}
    for c in concepts:
        keysets = {l: set(ps.keys) for l, ps in pairs[c].items()}
        gaps = {k: sorted(l for l, ks in keysets.items() if k not in ks) for k in sorted(set().union(*keysets.values()))}
        gaps = {k: v for k, v in gaps.items() if v}
        if gaps:
            partial[c] = gaps
            _say(cfg, f"note: {c}: {len(gaps)} item(s) missing in some languages (listed in run.json)")

    spec = models.resolve(cfg.model, revision=cfg.revision, trust_remote_code=cfg.trust_remote_code, seed=cfg.seed)
    device = models.resolve_device(cfg.device) if not cfg.device_map else "auto"
    dtype = str(models.resolve_dtype(cfg.dtype, device if device != "auto" else "cuda")).replace("torch.", "")
    token = cfg.token if cfg.token != "auto" else (spec.entry.token if spec.entry else "last")
    if token not in TOKEN_RULES:
        raise XlcError(f"--token {cfg.token}: use auto or one of {', '.join(TOKEN_RULES)}")
    template_name = cfg.template if cfg.template != "auto" else \
        (fam["name"] if fam and fam["name"] in models.TEMPLATES else spec.entry.template if spec.entry else "raw")
    plan = Plan(cfg, root, fam, concepts, langs_for, pairs, folds, partial, spec, device, dtype, token,
                template_name, "", ActivationCache(cfg.cache))
    plan.template = models.template_for(template_name, plan.tokenizer() if template_name == "chat" else None)
    return plan


def run(cfg: RunConfig) -> Path:
    """Run the pipeline and return the run folder. Raises XlcError on bad input before writing."""
    t0 = time.perf_counter()
    plan = prepare(cfg)
    timings = {"setup_s": time.perf_counter() - t0, "extract_s": 0.0, "analysis_s": 0.0, "surface_s": 0.0}
    results, tied = [], {}
    bar = tqdm(total=len(plan.concepts), desc="concepts", unit="concept", disable=not cfg.progress)
    for c in plan.concepts:
        t1 = time.perf_counter()
        data, tied[c] = plan.data(c)
        t2 = time.perf_counter()
        surf = surface.outcomes(_aligned_texts(plan.pairs[c], data.keys), data.folds, data.tested, data.present)
        t3 = time.perf_counter()
        results.append(analysis.analyse(data, cfg.method, cfg.seed, cfg.bootstrap, cfg.chance_directions, surf))
        timings["extract_s"] += t2 - t1
        timings["surface_s"] += t3 - t2
        timings["analysis_s"] += time.perf_counter() - t3
        bar.update(1)
    bar.close()
    counts = dict(plan.counts)  # the cross-concept pass below reads the cache again: not counted
    # the concepts against each other: every concept's vectors on every other concept's pairs
    t4 = time.perf_counter()
    vecs = {r.concept: (r.languages, r.vectors) for r in results}
    cross = {c: analysis.cross_concept(vecs, plan.data(c)[0]) for c in plan.concepts} if len(results) > 1 else {}
    timings["analysis_s"] += time.perf_counter() - t4

    spec, fam = plan.spec, plan.fam
    out = Path(cfg.out) if cfg.out else Path("results") / spec.slug
    used_files = [ps.path for c in plan.concepts for ps in plan.pairs[c].values()]
    first = results[0].vectors[0]
    protocol = plan.folds[plan.concepts[0]].protocol
    # the share of items tested under the paper's split, from the split itself (it may be read from a file)
    sizes = [(len(f.folds[0]), sum(len(x) for x in f.folds)) for f in plan.folds.values()]
    test_share = sum(t for t, _ in sizes) / max(sum(n for _, n in sizes), 1) if protocol == "paper" else None
    timings["total_s"] = time.perf_counter() - t0
    record = runfolder.RunRecord(
        model=spec.name, model_source=spec.source, model_path=str(spec.path), num_layers=int(first.shape[0]),
        hidden_size=int(first.shape[1]), concepts=plan.concepts, languages=plan.langs_for,
        protocol=protocol, folds=len(plan.folds[plan.concepts[0]].folds),
        layer_choice="inner" if protocol == "cv" else "oracle",
        bootstrap=cfg.bootstrap, bootstrap_refit=results[0].refit, method=cfg.method, token=plan.token,
        template=plan.template, template_name=plan.template_name, seed=cfg.seed,
        test_size=test_share, split_from=cfg.split,
        chance_directions=cfg.chance_directions, revision=spec.revision, model_identity=spec.identity,
        model_description=spec.entry.description if spec.entry else None,
        model_caveats=list(spec.entry.caveats) if spec.entry else [],
        num_parameters=models.count_parameters(spec.path), family=fam["name"] if fam else None,
        excluded_languages=sorted(fam["excluded_languages"]) if fam else [], dtype=plan.dtype, device=plan.device,
        data=str(plan.root), data_bundled=cfg.data is None, data_hash=D.files_hash(used_files),
        pairs={c: {l: len(ps) for l, ps in plan.pairs[c].items()} for c in plan.concepts},
        dropped_pairs={c: {l: ps.dropped for l, ps in plan.pairs[c].items() if ps.dropped} for c in plan.concepts},
        tied_pairs={c: {l: n for l, n in t.items() if n} for c, t in tied.items()}, unk_share=plan.unk_share(),
        partial_items=plan.partial, counts=counts, timings=timings, versions=_versions(), xlc_version=__version__)
    runfolder.write(out, record, results, plan.folds, cross)
    _say(cfg, f"wrote {out} ({counts['texts_forwarded']} texts forwarded, {counts['cache_hits']} cache hits, "
              f"{timings['total_s']:.1f} s)")
    return out


def _aligned_texts(pairs: dict[str, D.PairSet], keys: list[str]) -> dict[str, tuple[list[str], list[str]]]:
    """``{lang: (positive answers, negative answers)}`` on the aligned items (empty strings where a language
    lacks one): what differs within a pair, which the surface baselines read."""
    out = {}
    for lang, ps in pairs.items():
        text = {k: (p, n) for k, p, n in zip(ps.keys, *ps.answers)}
        out[lang] = ([text.get(k, ("", ""))[0] for k in keys], [text.get(k, ("", ""))[1] for k in keys])
    return out


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("torch", "transformers", "tokenizers", "numpy", "scikit-learn", "pandas"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            pass
    return out
