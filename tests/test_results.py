"""xlc.results: reading run folders and the paper's views of them, on fabricated run folders."""


import numpy as np
import pytest
from runfolder import write_run

from xlc import metrics, results
from xlc.errors import XlcError


@pytest.fixture
def run(tmp_path):
    return results.load_run(write_run(tmp_path / "r"))


def test_load_run_names_the_missing_file(tmp_path):
    folder = write_run(tmp_path / "r")
    (folder / "consistency.csv").unlink()
    with pytest.raises(XlcError, match="consistency.csv: missing"):
        results.load_run(folder)
    with pytest.raises(XlcError, match="run folder not found"):
        results.load_run(tmp_path / "nope")


def test_load_runs_disambiguates_equal_folder_names(tmp_path):
    a, b = write_run(tmp_path / "x" / "m"), write_run(tmp_path / "y" / "m")
    assert [r.name for r in results.load_runs([a, b])] == ["x-m", "y-m"]


def test_scope_drops_concepts_until_two_languages_are_shared(tmp_path):
    folder = write_run(tmp_path / "r", concepts=("morality", "fairness", "toxicity"),
                       langs_for={"toxicity": ["en"], "fairness": ["en", "fr"]})
    r = results.load_run(folder)
    assert results.scope(r) == (["morality", "fairness"], ["en", "fr"])
    assert results.scope(r, ["morality"]) == (["morality"], ["en", "zh", "fr"])  # the study's order
    with pytest.raises(XlcError, match="has no zh"):
        results.scope(r, ["fairness"], ["en", "zh"])


def test_language_order_by_family_share_and_unseen(tmp_path):
    r = results.load_run(write_run(tmp_path / "r", langs=("en", "zh", "fr", "sw", "ja"), family="bloomz"))
    # bloomz shares: en 30 > zh 16 > fr 12.9 > sw 0.01; ja has none (and bloomz excludes it)
    assert results.language_order(r, ["ja", "sw", "fr", "zh", "en"]) == ["en", "zh", "fr", "sw", "ja"]
    assert results.language_order(r, ["sw", "en"], "study") == ["en", "sw"]
    assert results.language_order(r, ["sw", "en", "fr"], ["fr"]) == ["fr", "en", "sw"]
    assert results.unseen_languages(r, r.languages()) == ["ja"]
    none = results.load_run(write_run(tmp_path / "n", langs=("sw", "en")))
    assert results.language_order(none, ["sw", "en"]) == ["en", "sw"]
    assert results.unseen_languages(none, ["sw"]) == []


def test_recognition_table_is_the_diagonal_at_the_best_layer(run):
    table = results.recognition_table(run)
    t = run.transfer
    for c in run.concepts:
        for l in run.languages(c):
            own = t[(t.concept == c) & (t.source == l) & (t.target == l)]
            assert table.loc[l, c] == own.accuracy.max()
    assert np.allclose(table["mean"], table[run.concepts].mean(axis=1))
    at2 = results.recognition_table(run, layer=2)
    own = t[(t.concept == "fairness") & (t.source == "fr") & (t.target == "fr") & (t.layer == 2)]
    assert at2.loc["fr", "fairness"] == own.accuracy.iloc[0]


def test_accuracy_matrix_at_a_layer_and_best(run):
    langs = ["en", "fr", "zh"]
    best = results.accuracy_matrix(run, run.concepts, langs)
    assert best.equals(metrics.accuracy_matrix(run.transfer, langs, run.concepts))
    m = results.accuracy_matrix(run, run.concepts, langs, 3)
    t = run.transfer
    want = t[(t.layer == 3) & (t.source == "zh") & (t.target == "en")].accuracy.mean()
    assert m.loc["zh", "en"] == pytest.approx(want)
    assert (best.to_numpy() >= m.to_numpy() - 1e-12).all()  # mean of per-concept maxima >= any layer
    with pytest.raises(XlcError, match="layers 1..3"):
        results.accuracy_matrix(run, run.concepts, langs, 4)


def test_transfer_stack_delta_and_best_layer(run):
    langs = ["zh", "en", "fr"]
    s = results.transfer_stack(run, "morality", langs)
    assert s["acc"].shape == (4, 3, 3) and s["mono"].shape == (4, 3)
    assert np.allclose(s["delta"], s["acc"] - s["mono"][:, None, :])
    assert np.allclose(np.diagonal(s["delta"], axis1=1, axis2=2), 0)
    t = run.transfer
    cell = t[(t.concept == "morality") & (t.source == "zh") & (t.target == "fr")]
    assert s["acc"][0, 0, 2] == cell.accuracy.max()
    assert s["acc"][2, 0, 2] == cell[cell.layer == 2].accuracy.iloc[0]
    assert list(s["n_test"]) == [10, 10, 10]
    mean = results.transfer_stack(run, None, langs, run.concepts)
    assert list(mean["n_test"]) == [20, 20, 20]  # summed over the two concepts


def test_tables_7_and_8_use_the_concept_mean(run):
    langs = ["en", "fr", "zh"]
    t7 = results.table7(run, run.concepts, langs)
    assert t7["n_pairs"] == 6 and sum(t7["counts"].values()) == 6
    t8 = results.table8(run, run.concepts, langs)
    assert t8["languages"] == ["en", "zh", "fr"]  # the shared languages, in the study's order
    assert set(t8["display"]) == {"en", "zh", "fr", "avg"}


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
    assert row.cosine == pytest.approx(one) and row.n_pairs == 3
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


def test_baseline_comparison_margin(run):
    cmp = results.baseline_comparison(run)
    assert len(cmp) == 6
    assert np.allclose(cmp.margin, cmp.accuracy - cmp.baseline)
    assert (cmp.above == (cmp.margin > 2 * cmp.baseline_std)).all()


def test_run_summary(tmp_path):
    runs = results.load_runs([write_run(tmp_path / "a", num_parameters=10), write_run(tmp_path / "b", num_parameters=None)])
    s = results.run_summary(runs)
    assert list(s.run) == ["a", "b"] and s.num_parameters.iloc[0] == 10
    assert s.best_layer_consistency.between(-1, 1).all()
