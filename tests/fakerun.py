"""A run folder without a model: seeded random hidden states with a planted concept direction, through the
real analysis and the real writer (xlc.runfolder.write), in a fraction of a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xlc import analysis, runfolder
from xlc import data as D


def write_run(folder: Path, langs=("en", "fr", "zh"), concepts=("morality", "fairness"), layers: int = 3,
              items: int = 20, dim: int = 8, seed: int = 0, family: str | None = None,
              num_parameters: int | None = 1000, langs_for: dict | None = None, model: str = "fake",
              bootstrap: int = 40, protocol: str = "cv", caveats=()) -> Path:
    """Write a complete run folder; ``langs_for`` overrides the languages of some concepts."""
    rng = np.random.default_rng(seed)
    keys = [f"g|{i:02d}" for i in range(items)]
    languages = {c: list((langs_for or {}).get(c, langs)) for c in concepts}
    results, split, datas = [], {}, {}
    for c in concepts:
        folds = D.make_folds(keys, c, 5, seed) if protocol == "cv" else D.make_split(keys, c, 0.25, seed)
        direction = rng.standard_normal((layers, dim))
        states = {}
        for lang in languages[c]:
            base = rng.standard_normal((items, layers, dim))
            strength = rng.uniform(0.0, 0.8)
            pos = base + strength * direction + rng.standard_normal((items, layers, dim))
            neg = base - strength * direction + rng.standard_normal((items, layers, dim))
            states[lang] = np.concatenate([pos, neg]).astype(np.float32)
        datas[c] = analysis.assemble(c, languages[c], {l: keys for l in languages[c]}, states,
                                     {l: np.zeros(items, dtype=bool) for l in languages[c]}, folds)
        S = len(languages[c])
        surface = {b: rng.choice([0.0, 0.5, 1.0], size=(S, S, items)) for b in ("length", "ngram")}
        results.append(analysis.analyse(datas[c], n_boot=bootstrap, chance_directions=4, seed=seed, surface=surface))
        split[c] = folds
    vecs = {r.concept: (r.languages, r.vectors) for r in results}
    cross = {c: analysis.cross_concept(vecs, d) for c, d in datas.items()}
    record = runfolder.RunRecord(
        model=model, model_source="local", model_path=str(folder), num_layers=layers, hidden_size=dim,
        concepts=list(concepts), languages=languages, protocol=protocol, folds=len(split[concepts[0]].folds),
        layer_choice="inner" if protocol == "cv" else "oracle", test_size=0.25 if protocol == "paper" else None,
        bootstrap=bootstrap, num_parameters=num_parameters,
        family=family, model_caveats=list(caveats), data="synthetic", data_hash="0" * 64,
        pairs={c: {l: items for l in languages[c]} for c in concepts}, timings={"total_s": 1.0},
        versions={"torch": "x", "transformers": "y"}, xlc_version="test")
    return runfolder.write(folder, record, results, split, cross)
