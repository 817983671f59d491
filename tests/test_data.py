import json

import pytest
from conftest import write_dataset

from xlc import data as D
from xlc.errors import XlcError


def test_texts_are_built_as_the_paper_does():
    item = {"pos": "P", "neg": "N", "scenario": "S", "question": "Q?"}
    assert D.build_text("deontology", item, "P") == "S P"
    assert D.build_text("truthfulness", item, "N") == "Question: Q? Answer: N"
    assert D.build_text("fairness", item, "P") == "P"


def test_load_pairs_drops_collapsed_and_keeps_keys(tmp_path):
    root = write_dataset(tmp_path, concepts=["truthfulness"], langs=["en"], n=9,
                         collapse={("truthfulness", "en"): ["g1|04"]})
    ps = D.load_pairs(root, "truthfulness", "en")
    assert len(ps) == 8 and ps.dropped == ["g1|04"] and "g1|04" not in ps.keys
    assert all(t.startswith("Question: ") and " Answer: " in t for t in ps.pos + ps.neg)
    assert ps.texts == ps.pos + ps.neg


def test_split_is_shared_seeded_and_disjoint():
    keys = [f"g|{i}" for i in range(50)]
    a = D.make_split(keys, "fairness", 0.2, seed=0)
    b = D.make_split(list(reversed(keys)), "fairness", 0.2, seed=0)
    c = D.make_split(keys, "fairness", 0.2, seed=1)
    d = D.make_split(keys, "morality", 0.2, seed=0)
    assert a == b  # order of discovery does not matter
    assert a.folds[0] != c.folds[0] and a.folds[0] != d.folds[0]
    test, train = a.folds
    assert a.protocol == "paper" and a.tested == [True, False]
    assert len(test) == 10 and not set(test) & set(train) and set(test) | set(train) == set(keys)
    assert a.to_json() == {"train": train, "test": test} and D.Folds.from_json(a.to_json()) == a


def test_folds_are_shared_seeded_balanced_and_cover_every_key():
    keys = [f"g|{i}" for i in range(23)]
    f = D.make_folds(keys, "fairness", 5, seed=0)
    assert f == D.make_folds(list(reversed(keys)), "fairness", 5, seed=0)
    assert f != D.make_folds(keys, "fairness", 5, seed=1) and f != D.make_folds(keys, "morality", 5, seed=0)
    assert sorted(len(x) for x in f.folds) == [4, 4, 5, 5, 5] and f.tested == [True] * 5
    assert sorted(k for x in f.folds for k in x) == sorted(keys)
    index = f.index(keys + ["zz|9"])
    assert index[-1] == -1 and all(keys[i] in f.folds[index[i]] for i in range(len(keys)))
    assert D.Folds.from_json(f.to_json()) == f
    with pytest.raises(XlcError, match="cannot be cut into 30 folds"):
        D.make_folds(keys, "fairness", 30)
    with pytest.raises(XlcError, match="at least 3 folds"):
        D.make_folds(keys, "fairness", 2)


@pytest.mark.parametrize("content,message", [
    ("{not json", "invalid JSON at line 1"),
    ("[]", "expected a non-empty object"),
    ('{"g": {"1": {"pos": "a"}}}', "item 'g|1': 'neg' is missing"),
    ('{"g": {"1": {"pos": "a", "neg": "  "}}}', "item 'g|1': 'neg' is empty"),
    ('{"g": {"1": {"pos": "a", "neg": 3}}}', "'neg' must be a string"),
    ('{"g": {"1": "text"}}', "item 'g|1': expected an object"),
    ('{"a|b": {"1": {"pos": "a", "neg": "b"}}}', "contains '|'"),
    ('{"g": {"1": {"pos": "a", "neg": "b"}, "1": {"pos": "c", "neg": "d"}}}', "'1' appears twice"),
    ('{"g": {"1": {"pos": "a", "neg": "b"}}, "g": {"2": {"pos": "c", "neg": "d"}}}', "'g' appears twice"),
])
def test_bad_files_name_file_item_and_fix(tmp_path, content, message):
    path = tmp_path / "fairness" / "fairness_en.json"
    path.parent.mkdir()
    path.write_text(content, encoding="utf-8")
    with pytest.raises(XlcError) as err:
        D.load_pairs(tmp_path, "fairness", "en")
    assert str(path) in str(err.value) and message in str(err.value) and "\n" not in str(err.value)


def test_deontology_needs_scenario(tmp_path):
    path = tmp_path / "deontology" / "deontology_fr.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"g": {"1": {"pos": "a", "neg": "b"}}}))
    with pytest.raises(XlcError, match="'scenario' is missing"):
        D.load_pairs(tmp_path, "deontology", "fr")


def test_read_split_reads_both_protocols_and_rejects_overlap(tmp_path):
    p = tmp_path / "split.json"
    p.write_text(json.dumps({"fairness": {"train": ["a|1", "a|2"], "test": ["a|2"]}}))
    with pytest.raises(XlcError, match="in two folds"):
        D.read_split(p)
    p.write_text(json.dumps({"fairness": {"folds": [["a|1"], ["a|2", "a|1"], ["a|3"]]}}))
    with pytest.raises(XlcError, match="in two folds"):
        D.read_split(p)
    p.write_text(json.dumps({"fairness": {"folds": [["a|1"], ["a|2"], ["a|3"]]},
                             "morality": {"train": ["b"], "test": ["c"]}}))
    got = D.read_split(p)
    assert got["fairness"].protocol == "cv" and got["morality"] == D.Folds("paper", [["c"], ["b"]], [True, False])
    for bad in ({"fairness": {"tests": []}}, {"fairness": {"folds": "abc"}}, {"fairness": {"folds": [["a"], ["b"]]}},
                {"fairness": {"train": ["a"], "test": "b"}}, {"fairness": {"folds": [["a"], [1], ["c"]]}}):
        p.write_text(json.dumps(bad))
        with pytest.raises(XlcError, match="not a split file"):
            D.read_split(p)


def test_discover_and_language_order(tmp_path):
    root = write_dataset(tmp_path, concepts=["fairness"], langs=["zh", "en", "sw"], n=3)
    assert D.discover(root) == {"fairness": ["en", "sw", "zh"]}
    assert D.order_languages(["sw", "zh", "en", "xx"]) == ["en", "zh", "sw", "xx"]
    with pytest.raises(XlcError, match="no <concept>"):
        D.discover(tmp_path / "fairness")
