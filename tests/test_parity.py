"""xlc run against an independent one-sentence-at-a-time implementation (tests/reference_impl.py), under
cross-validation on the recorded folds and under the paper's single split."""

import json

import pandas as pd
import pytest
from conftest import record, write_dataset
from reference_impl import reference_results
from transformers import AutoModel, AutoTokenizer

from xlc.runner import RunConfig, run


def check(out, model_dir, dataset, concepts, langs):
    split = json.loads((out / "split.json").read_text())
    model = AutoModel.from_pretrained(model_dir).eval()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    acc, cos, sel = reference_results(model, tokenizer, dataset, split, concepts, langs)
    transfer = pd.read_csv(out / "transfer.csv")
    consistency = pd.read_csv(out / "consistency.csv")
    mine = {(r.concept, r.source, r.target, r.layer): r.accuracy for r in transfer.itertuples()}
    assert mine.keys() == acc.keys()
    worst = max(abs(mine[k] - acc[k]) for k in acc)
    assert worst < 1e-4, worst
    mine_cos = {(r.concept, r.source, r.target, r.layer): r.cosine for r in consistency.itertuples()}
    assert max(abs(mine_cos[k] - cos[k]) for k in cos) < 1e-4
    if sel:
        selected = pd.read_csv(out / "selected.csv")
        mine_sel = {(r.concept, r.source, r.target): r.accuracy for r in selected.itertuples()}
        assert max(abs(mine_sel[k] - sel[k]) for k in sel) < 1e-4
    # a model of random weights still has a non-trivial spread of accuracies to compare
    assert transfer.accuracy.nunique() > 3
    return split


@pytest.mark.parametrize("arch,padding", [("llama", "right"), ("gpt2", "left"), ("bloom", "left"), ("bert", "right")])
def test_cross_validation_matches_plain_reference(tiny_dirs, dataset, tmp_path, arch, padding):
    concepts, langs = ["morality", "deontology", "truthfulness"], ["en", "fr", "zh"]
    out = run(RunConfig(model=str(tiny_dirs[arch]), data=str(dataset), out=str(tmp_path / "run"), batch_size=7,
                        padding_side=padding, progress=False, log=None, chance_directions=2, bootstrap=20))
    split = check(out, tiny_dirs[arch], dataset, concepts, langs)
    for c in concepts:  # the folds are shared by every language and cover each item once
        folds = split[c]["folds"]
        keys = [k for f in folds for k in f]
        assert len(folds) == 5 and len(keys) == len(set(keys)) == 20


def test_paper_protocol_matches_plain_reference(tiny_dirs, dataset, tmp_path):
    out = run(RunConfig(model=str(tiny_dirs["llama"]), data=str(dataset), out=str(tmp_path / "run"), protocol="paper",
                        progress=False, log=None, chance_directions=2, bootstrap=0))
    split = check(out, tiny_dirs["llama"], dataset, ["morality", "deontology", "truthfulness"], ["en", "fr", "zh"])
    for s in split.values():  # the paper's single split, shared by every language
        assert set(s) == {"train", "test"} and not set(s["train"]) & set(s["test"]) and len(s["test"]) == 4
    assert record(out)["test_size"] == pytest.approx(4 / 20)  # the tested share, from the split
    # the same split read back from the run folder gives the same numbers, and the record says where it came from
    again = run(RunConfig(model=str(tiny_dirs["llama"]), data=str(dataset), out=str(tmp_path / "again"),
                          split=str(out / "split.json"), progress=False, log=None, chance_directions=2, bootstrap=0))
    assert record(again)["protocol"] == "paper" and record(again)["test_size"] == pytest.approx(4 / 20)
    assert record(again)["split_from"] == str(out / "split.json")
    pd.testing.assert_frame_equal(pd.read_csv(again / "transfer.csv"), pd.read_csv(out / "transfer.csv"))


def test_items_missing_in_some_languages_match_the_reference(tiny_dirs, tmp_path):
    data = write_dataset(tmp_path / "data", concepts=("morality",), n=20,
                         skip={("morality", "fr"): ["g0|03", "g1|07"], ("morality", "zh"): ["g2|11"]})
    out = run(RunConfig(model=str(tiny_dirs["gpt2"]), data=str(data), out=str(tmp_path / "run"), progress=False,
                        log=None, chance_directions=2, bootstrap=10))
    check(out, tiny_dirs["gpt2"], data, ["morality"], ["en", "fr", "zh"])
    rec = record(out)
    assert rec["partial_items"]["morality"] == {"g0|03": ["fr"], "g1|07": ["fr"], "g2|11": ["zh"]}
    n = pd.read_csv(out / "transfer.csv").groupby("target").n_test.first()
    assert n.to_dict() == {"en": 20, "fr": 18, "zh": 19}
