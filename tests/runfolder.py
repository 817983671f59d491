"""A fabricated run folder (the files ``xlc run`` writes, with seeded random numbers), for tests of
the modules that read run folders. No model is involved, so it is written in milliseconds."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd


def write_run(folder: Path, langs=("en", "fr", "zh"), concepts=("morality", "fairness"), layers: int = 3,
              n_test: int = 10, seed: int = 0, family: str | None = None, num_parameters: int | None = 1000,
              langs_for: dict | None = None, model: str = "fake") -> Path:
    """Write transfer.csv, consistency.csv, baseline.csv and run.json; ``langs_for`` overrides the
    languages of some concepts. Accuracies are multiples of 1 / n_test, cosines symmetric with 1 on
    the diagonal."""
    rng = np.random.default_rng(seed)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    langs_for = {c: list((langs_for or {}).get(c, langs)) for c in concepts}
    t_rows, c_rows, b_rows = [], [], []
    for c in concepts:
        ls = langs_for[c]
        S = len(ls)
        acc = rng.integers(0, n_test + 1, size=(S, S, layers)) / n_test
        cos = rng.uniform(-1, 1, size=(S, S, layers))
        cos = (cos + cos.transpose(1, 0, 2)) / 2
        cos[np.arange(S), np.arange(S)] = 1.0
        for (i, s), (j, t), l in itertools.product(enumerate(ls), enumerate(ls), range(layers)):
            t_rows.append((c, s, t, l + 1, acc[i, j, l], n_test))
            c_rows.append((c, s, t, l + 1, cos[i, j, l]))
        for (i, s), l in itertools.product(enumerate(ls), range(layers)):
            b_rows.append((c, s, l + 1, 0.5 + rng.uniform(-0.05, 0.05), 0.05, 4, n_test))
    pd.DataFrame(t_rows, columns=["concept", "source", "target", "layer", "accuracy", "n_test"]).to_csv(
        folder / "transfer.csv", index=False)
    pd.DataFrame(c_rows, columns=["concept", "source", "target", "layer", "cosine"]).to_csv(
        folder / "consistency.csv", index=False)
    pd.DataFrame(b_rows, columns=["concept", "language", "layer", "accuracy", "accuracy_std", "n_directions",
                                  "n_test"]).to_csv(folder / "baseline.csv", index=False)
    info = {"xlc_version": "test", "model": model, "model_source": "local", "num_parameters": num_parameters,
            "num_layers": layers, "hidden_size": 8, "family": family, "excluded_languages": [],
            "template": "{input}", "template_name": "raw", "token": "last", "method": "mean_diff", "seed": seed,
            "test_size": 0.2, "baseline_directions": 4, "data": "synthetic", "data_bundled": False,
            "data_hash": "0" * 64, "concepts": list(concepts), "languages": langs_for,
            "pairs": {c: {l: 5 * n_test for l in langs_for[c]} for c in concepts}, "dropped_pair_count": 0,
            "versions": {"torch": "x", "transformers": "y"}, "timings": {"total_s": 1.0}}
    (folder / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return folder
