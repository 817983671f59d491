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
    present, idx = ps.select(["g1|04", "g0|00", "zz|1"])
    assert present == ["g0|00"] and ps.keys[idx[0]] == "g0|00"


def test_split_is_shared_seeded_and_disjoint():
    keys = [f"g|{i}" for i in range(50)]
    a = D.make_split(keys, "fairness", 0.2, seed=0)
    b = D.make_split(list(reversed(keys)), "fairness", 0.2, seed=0)
    c = D.make_split(keys, "fairness", 0.2, seed=1)
    d = D.make_split(keys, "morality", 0.2, seed=0)
    assert a == b  # order of discovery does not matter
    assert a.test != c.test and a.test != d.test
    assert len(a.test) == 10 and not set(a.test) & set(a.train) and set(a.test) | set(a.train) == set(keys)


@pytest.mark.parametrize("content,message", [
    ("{not json", "invalid JSON at line 1"),
    ("[]", "expected a non-empty object"),
    ('{"g": {"1": {"pos": "a"}}}', "item 'g|1': 'neg' is missing"),
    ('{"g": {"1": {"pos": "a", "neg": "  "}}}', "item 'g|1': 'neg' is empty"),
    ('{"g": {"1": {"pos": "a", "neg": 3}}}', "'neg' must be a string"),
    ('{"g": {"1": "text"}}', "item 'g|1': expected an object"),
    ('{"a|b": {"1": {"pos": "a", "neg": "b"}}}', "contains '|'"),
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


def test_read_split_rejects_overlap(tmp_path):
    p = tmp_path / "split.json"
    p.write_text(json.dumps({"fairness": {"train": ["a|1", "a|2"], "test": ["a|2"]}}))
    with pytest.raises(XlcError, match="both train and test"):
        D.read_split(p)
    p.write_text("{}")
    assert D.read_split(p) == {}


def test_discover_and_language_order(tmp_path):
    root = write_dataset(tmp_path, concepts=["fairness"], langs=["zh", "en", "sw"], n=3)
    assert D.discover(root) == {"fairness": ["en", "sw", "zh"]}
    assert D.order_languages(["sw", "zh", "en", "xx"]) == ["en", "zh", "sw", "xx"]
    with pytest.raises(XlcError, match="no <concept>"):
        D.discover(tmp_path / "fairness")


def test_arranged_pairs_keep_the_file_order_recoverable(tmp_path):
    root = write_dataset(tmp_path / "data")
    ps = D.load_pairs(root, "morality", "en")
    split = D.make_split(ps.keys, "morality", 0.25, seed=3)
    arranged = ps.arranged(split.test, split.train)
    n_test = len(split.test)
    assert arranged.keys[:n_test] == split.test and arranged.keys[n_test:] == split.train
    assert sorted(arranged.keys) == sorted(ps.keys) and len(arranged) == len(ps)
    # every item keeps its own texts
    mine = dict(zip(ps.keys, zip(ps.pos, ps.neg)))
    assert all(mine[k] == (p, n) for k, p, n in zip(arranged.keys, arranged.pos, arranged.neg))
    # the file's order (the cached one) comes back, and file_rows maps rows here to rows there
    assert arranged.file_texts() == ps.pos + ps.neg
    assert ps.file_texts() == ps.pos + ps.neg and ps.file_rows() is None
    rows = arranged.file_rows()
    file_texts = arranged.file_texts()
    assert [file_texts[r] for r in rows] == arranged.pos + arranged.neg
    # arranging again composes: still mapped to the file
    again = arranged.arranged(list(reversed(arranged.keys)))
    assert again.file_texts() == ps.pos + ps.neg
    assert [again.file_texts()[r] for r in again.file_rows()] == again.pos + again.neg
    # keys outside the groups stay, after them, in file order
    partial = ps.arranged(split.test[:2])
    assert partial.keys[:2] == split.test[:2]
    assert partial.keys[2:] == [k for k in ps.keys if k not in split.test[:2]]
