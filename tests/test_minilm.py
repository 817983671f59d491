"""The embedded default model reads the bundled English contrasts (issue bar: best-layer English
recognition >= 0.85 on at least 5 of the 7 concepts)."""

import json

import pandas as pd

from xlc import metrics
from xlc.runner import RunConfig, run


def test_minilm_recognises_the_english_concepts(tmp_path):
    out = run(RunConfig(model="minilm", langs=["en"], out=str(tmp_path / "run"), progress=False, log=None,
                        baseline_directions=8))
    best = metrics.best_layer(pd.read_csv(out / "transfer.csv"))
    print(best.to_string())
    assert (best.accuracy >= 0.85).sum() >= 5
    base = pd.read_csv(out / "baseline.csv")
    # the learned directions beat random directions by a wide margin
    assert best.accuracy.mean() > base.groupby("concept").accuracy.max().mean() + 0.1
    rec = json.loads((out / "run.json").read_text())
    assert rec["num_layers"] == 6 and rec["hidden_size"] == 384 and rec["token"] == "last"
