"""xlc.results: reading run folders and the paper's views of them, on fabricated run folders."""


import numpy as np
import pytest
from fakerun import write_run

from xlc import results, runfolder
from xlc.errors import XlcError


@pytest.fixture
def run(tmp_path):
    return runfolder.read(write_run(tmp_path / "r"))


def test_read_names_the_missing_or_foreign_file(tmp_path):
    import json

    folder = write_run(tmp_path / "r")
    (folder / "consistency.csv").unlink()
    with pytest.raises(XlcError, match="consistency.csv: missing"):
        runfolder.read(folder)
    with pytest.raises(XlcError, match="run folder not found"):
        runfolder.read(tmp_path / "nope")
    record = json.loads((folder / "run.json").read_text())
    record["format"] = 1
    (folder / "run.json").write_text(json.dumps(record))
    with pytest.raises(XlcError, match="another version of xlc"):
        runfolder.read(folder)
    (folder / "run.json").unlink()
    with pytest.raises(XlcError, match="incomplete"):
        runfolder.read(folder)


def test_damaged_tables_name_the_file(tmp_path):
    folder = write_run(tmp_path / "r")
    (folder / "selected.csv").write_bytes(b'a,b\n"unterminated')
    (folder / "bootstrap.npz").write_bytes(b"PK\x03\x04 not a zip")
    run = runfolder.read(folder)
    with pytest.raises(XlcError, match="selected.csv: unreadable"):
        _ = run.selected
    with pytest.raises(XlcError, match="bootstrap.npz: unreadable"):
        _ = run.replicates


def test_the_record_round_trips_and_read_all_disambiguates_names(tmp_path):
    a, b = write_run(tmp_path / "x" / "m", family="bloomz"), write_run(tmp_path / "y" / "m")
    runs = runfolder.read_all([a, b])
    assert [r.name for r in runs] == ["x-m", "y-m"]
    rec = runs[0].record
    assert isinstance(rec, runfolder.RunRecord) and rec.family == "bloomz" and runs[0].family["name"] == "bloomz"
    assert rec.protocol == "cv" and rec.folds == 5 and rec.bootstrap == 40
    assert runs[0].vectors("morality", "en").shape == (3, 8)
    assert set(runs[0].replicates) == {"morality", "fairness"}
    assert runs[0].replicates["morality"]["selected"].shape == (40, 3, 3)
    assert runs[0].split()["morality"].protocol == "cv"


def test_scope_drops_concepts_until_two_languages_are_shared(tmp_path):
    folder = write_run(tmp_path / "r", concepts=("morality", "fairness", "toxicity"),
                       langs_for={"toxicity": ["en"], "fairness": ["en", "fr"]})
    r = runfolder.read(folder)
    assert results.scope(r) == (["morality", "fairness"], ["en", "fr"])
    assert results.scope(r, ["morality"]) == (["morality"], ["en", "zh", "fr"])  # the study's order
    assert results.scope(r, ["fairness"], ["zh", "fr", "en"]) == (["fairness"], ["fr", "en"])  # kept: those it has
    with pytest.raises(XlcError, match="choose other languages"):
        results.scope(r, ["fairness"], ["zh"])


def test_language_order_by_family_share_and_unseen(tmp_path):
    r = runfolder.read(write_run(tmp_path / "r", langs=("en", "zh", "fr", "sw", "ja"), family="bloomz"))
    # bloomz shares: en 30 > zh 16 > fr 12.9 > sw 0.01; ja has none (and bloomz excludes it)
    assert results.language_order(r, ["ja", "sw", "fr", "zh", "en"]) == ["en", "zh", "fr", "sw", "ja"]
    assert results.language_order(r, ["sw", "en"], "study") == ["en", "sw"]
    assert results.language_order(r, ["sw", "en", "fr"], ["fr"]) == ["fr", "en", "sw"]
    assert results.unseen_languages(r, r.languages("morality")) == ["ja"]
    none = runfolder.read(write_run(tmp_path / "n", langs=("sw", "en")))
    assert results.language_order(none, ["sw", "en"]) == ["en", "sw"]
    assert results.unseen_languages(none, ["sw"]) == []


def test_recognition_table_at_the_chosen_the_oracle_and_one_layer(run):
    sel = run.selected
    table = results.recognition_table(run)
    oracle = results.recognition_table(run, layer="oracle")
    t = run.transfer
    for c in run.concepts:
        for l in run.languages(c):
            row = sel[(sel.concept == c) & (sel.source == l) & (sel.target == l)].iloc[0]
            assert table.loc[l, c] == row.accuracy and oracle.loc[l, c] == row.oracle_accuracy
            own = t[(t.concept == c) & (t.source == l) & (t.target == l)]
            assert oracle.loc[l, c] == own.accuracy.max() >= table.loc[l, c]  # the oracle flatters by construction
    assert np.allclose(table["mean"], table[run.concepts].mean(axis=1))
    at2 = results.recognition_table(run, layer=2)
    own = t[(t.concept == "fairness") & (t.source == "fr") & (t.target == "fr") & (t.layer == 2)]
    assert at2.loc["fr", "fairness"] == own.accuracy.iloc[0]


def test_recognition_summary_has_intervals_and_baselines(run):
    s = results.recognition_summary([run])
    assert list(s.language) == ["en", "zh", "fr"]
    assert ((s.lo <= s.accuracy + 1e-9) & (s.accuracy <= s.hi + 1e-9)).all()
    assert {"chance", "length", "ngram", "auc", "oracle"} <= set(s)
    cells = results.recognition_cells(run)
    assert len(cells) == 6 and cells.auc.between(0, 1).all()


def test_accuracy_matrix_selected_oracle_and_a_layer(run):
    langs = ["en", "fr", "zh"]
    oracle = results.accuracy_matrix(run, run.concepts, langs, "oracle")
    t = run.transfer  # the paper's best layer per (concept, source, target), then the mean over concepts
    best = t.loc[t.groupby(["concept", "source", "target"]).accuracy.idxmax()]
    want = best.groupby(["source", "target"]).accuracy.mean().unstack().reindex(index=langs, columns=langs)
    assert np.allclose(oracle, want)
    sel = results.accuracy_matrix(run, run.concepts, langs)
    assert (oracle.to_numpy() >= sel.to_numpy() - 1e-9).all()
    m = results.accuracy_matrix(run, run.concepts, langs, 3)
    t = run.transfer
    want = t[(t.layer == 3) & (t.source == "zh") & (t.target == "en")].accuracy.mean()
    assert m.loc["zh", "en"] == pytest.approx(want)
    with pytest.raises(XlcError, match="layers 1..3"):
        results.accuracy_matrix(run, run.concepts, langs, 4)


def test_transfer_stack_steps_delta_and_intervals(run):
    langs = ["zh", "en", "fr"]
    s = results.transfer_stack(run, "morality", langs)
    assert s["steps"] == ["selected", "oracle", "1", "2", "3"] and s["unseen"] == []
    assert s["acc"].shape == (5, 3, 3) and s["mono"].shape == (5, 3)
    assert np.allclose(s["delta"], s["acc"] - s["mono"][:, None, :])
    assert np.allclose(np.diagonal(s["delta"], axis1=1, axis2=2), 0)
    t = run.transfer
    cell = t[(t.concept == "morality") & (t.source == "zh") & (t.target == "fr")]
    assert s["acc"][1, 0, 2] == cell.accuracy.max()
    assert s["acc"][3, 0, 2] == cell[cell.layer == 2].accuracy.iloc[0]
    assert np.isfinite(s["delta_lo"][:2]).all() and np.isnan(s["delta_lo"][2:]).all()
    assert (s["delta_lo"][0] <= s["delta"][0] + 1e-9).all()
    assert list(s["n_test"]) == [20, 20, 20]
    mean = results.transfer_stack(run, None, langs, run.concepts)
    assert list(mean["n_test"]) == [40, 40, 40]  # summed over the two concepts
    short = results.transfer_stack(run, "morality", langs, every_layer=False)
    assert short["steps"] == ["selected", "oracle"] and np.allclose(short["acc"], s["acc"][:2], equal_nan=True)


def test_cross_concept_matrix_has_each_concepts_own_recognition_on_the_diagonal(run):
    m = results.cross_concept_matrix(run)
    assert list(m.index) == list(m.columns) == run.concepts
    rec = results.recognition(run)
    best = results.concept_best_layers(run)
    for c in run.concepts:
        assert m.loc[c, c] == pytest.approx(rec[(rec.concept == c) & (rec.layer == best[c])].accuracy.mean())
    assert np.isfinite(m.to_numpy()).all()


def test_concept_best_layers_and_consistency_by_depth(run):
    best = results.concept_best_layers(run)
    rec = results.recognition(run)
    for c, layer in best.items():
        means = rec[rec.concept == c].groupby("layer").accuracy.mean()
        assert means[layer] == means.max() and layer == means[means == means.max()].index.min()
    depth = results.consistency_by_depth(run, ["en", "fr", "zh"])
    cos = run.consistency
    one = cos[(cos.concept == "fairness") & (cos.layer == 2) & (cos.source != cos.target)].cosine.mean()
    row = depth[(depth.concept == "fairness") & (depth.layer == 2)].iloc[0]
    assert row.cosine == pytest.approx(one) and row.n_pairs == 3 and row.cosine_lo <= row.cosine_hi
    assert row.relative_depth == pytest.approx(2 / 3)
    mean = depth[(depth.concept == "mean") & (depth.layer == 2)].cosine.iloc[0]
    assert mean == pytest.approx(depth[(depth.concept != "mean") & (depth.layer == 2)].cosine.mean())
    blc = results.best_layer_consistency(run, ["en", "fr", "zh"])
    want = np.mean([depth[(depth.concept == c) & (depth.layer == l)].cosine.iloc[0] for c, l in best.items()])
    assert blc == pytest.approx(want)


def test_cosine_at_mean_and_symmetry(run):
    mats = results.cosine_at(run, run.concepts, ["en", "fr", "zh"])
    assert list(mats) == ["mean", "morality", "fairness"]
    for m in mats.values():
        assert np.allclose(m.to_numpy(), m.to_numpy().T) and np.allclose(np.diag(m), 1)
    order = ["en", "fr", "zh"]
    parts = [mats[c].reindex(index=order, columns=order) for c in ("morality", "fairness")]
    assert np.allclose(mats["mean"], (parts[0] + parts[1]) / 2)


def test_run_summary(tmp_path):
    runs = runfolder.read_all([write_run(tmp_path / "a", num_parameters=10), write_run(tmp_path / "b", num_parameters=None)])
    s = results.run_summary(runs)
    assert list(s.run) == ["a", "b"] and s.num_parameters.iloc[0] == 10
    assert s.best_layer_consistency.between(-1, 1).all()
