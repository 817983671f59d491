"""xlc run against an independent one-sentence-at-a-time implementation of the paper's method."""

import json

import pandas as pd
import pytest
from transformers import AutoModel, AutoTokenizer

from reference_impl import reference_results
from xlc.runner import RunConfig, run


@pytest.mark.parametrize("arch,padding", [("llama", "right"), ("gpt2", "left"), ("bloom", "left"), ("bert", "right")])
def test_run_matches_plain_reference(tiny_dirs, dataset, tmp_path, arch, padding):
    concepts, langs = ["morality", "deontology", "truthfulness"], ["en", "fr", "zh"]
    out = run(RunConfig(model=str(tiny_dirs[arch]), data=str(dataset), out=str(tmp_path / "run"), batch_size=7,
                        padding_side=padding, progress=False, log=None, baseline_directions=2))
    split = json.loads((out / "split.json").read_text())
    model = AutoModel.from_pretrained(tiny_dirs[arch]).eval()
    tokenizer = AutoTokenizer.from_pretrained(tiny_dirs[arch])
    acc, cos = reference_results(model, tokenizer, dataset, split, concepts, langs)

    transfer = pd.read_csv(out / "transfer.csv")
    consistency = pd.read_csv(out / "consistency.csv")
    assert len(transfer) == len(acc) == len(consistency)
    mine = {(r.concept, r.source, r.target, r.layer): r.accuracy for r in transfer.itertuples()}
    assert mine.keys() == acc.keys()
    worst = max(abs(mine[k] - acc[k]) for k in acc)
    assert worst < 1e-4, worst
    mine_cos = {(r.concept, r.source, r.target, r.layer): r.cosine for r in consistency.itertuples()}
    assert max(abs(mine_cos[k] - cos[k]) for k in cos) < 1e-4
    # the split is shared: no test key of a concept is a training key in any language
    for c in concepts:
        assert not set(split[c]["train"]) & set(split[c]["test"])
    # a model of random weights still has a non-trivial spread of accuracies to compare
    assert transfer.accuracy.nunique() > 3
