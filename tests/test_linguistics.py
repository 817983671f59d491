"""xlc.linguistics: distances, and the Direct / Split correlations with consistency."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from xlc import linguistics


def test_cosine_distance_uses_the_features_both_languages_have():
    x = np.array([[1.0, 0.0, np.nan], [1.0, 1.0, 5.0], [np.nan, np.nan, 2.0], [0.0, 0.0, np.nan]])
    d = linguistics.cosine_distance(x)
    assert d[0, 1] == pytest.approx(1 - 1 / np.sqrt(2))  # feature 3 unknown for row 0: ignored
    assert d[0, 1] == d[1, 0]
    assert d[1, 2] == pytest.approx(0.0)  # only feature 3 in common, same direction
    assert np.isnan(d[0, 2])  # nothing in common
    assert np.isnan(d[3, 1])  # zero vector
    assert np.allclose(np.diag(d), 0)


def frame(m, langs):
    return pd.DataFrame(np.asarray(m, float), index=langs, columns=langs)


def test_direct_and_split_correlations():
    langs = ["en", "fr", "es", "zh", "ja"]
    rng = np.random.default_rng(0)
    sim = rng.uniform(0, 1, (5, 5))
    sim = (sim + sim.T) / 2
    np.fill_diagonal(sim, 1)
    cos = frame(0.3 + 0.5 * sim, langs)  # consistency an exact linear function of similarity
    out = linguistics.correlations(cos, {"genetic": frame(1 - sim, langs)})
    assert out.loc["genetic", "direct_r"] == pytest.approx(1.0)
    assert out.loc["genetic", "split_r"] == pytest.approx(1.0)
    assert out.loc["genetic", "n_pairs"] == 10 and out.loc["genetic", "n_languages"] == 5

    # a per-language offset (one language consistent with everyone) hurts Direct, not Split
    offset = np.zeros(5)
    offset[3] = -2.0
    shifted = 0.3 + 0.5 * sim + offset[:, None] + offset[None, :]
    pairs = np.triu_indices(5, 1)
    split = linguistics.split_correlation(frame(shifted, langs), frame(sim, langs))
    direct = stats.pearsonr(shifted[pairs], sim[pairs])[0]
    assert split["en"] == pytest.approx(stats.pearsonr(np.delete(shifted[0], 0), np.delete(sim[0], 0))[0])
    assert split["zh"] == pytest.approx(1.0)  # its own row is shifted as a whole
    assert abs(direct) < 0.99


def test_correlation_is_nan_for_too_few_pairs():
    langs = ["en", "fr"]
    out = linguistics.correlations(frame([[1, 0.5], [0.5, 1]], langs), {"genetic": frame([[0, 0.2], [0.2, 0]], langs)})
    assert np.isnan(out.loc["genetic", "direct_r"]) and np.isnan(out.loc["genetic", "split_r"])


def test_paper_distances_and_pair_table():
    langs = ["en", "fr", "zh"]
    d = linguistics.paper_distances(langs, ["genetic"])["genetic"]
    assert np.allclose(d, d.T) and d.loc["en", "fr"] < d.loc["en", "zh"]
    pairs = linguistics.pair_table(frame(np.eye(3), langs), {"genetic": d})
    assert list(zip(pairs.a, pairs.b)) == [("en", "fr"), ("en", "zh"), ("fr", "zh")]
    assert pairs.genetic.iloc[0] == pytest.approx(1 - d.loc["en", "fr"])


def test_lang2vec_distances_offline_and_cached(tmp_path):
    langs = ["en", "fr", "es", "zh"]
    got = linguistics.lang2vec_distances(langs, ["genetic", "syntactic"], cache=tmp_path)
    g = got["genetic"]
    assert g.loc["fr", "es"] < g.loc["en", "fr"] < g.loc["en", "zh"]  # Romance < Indo-European < unrelated
    assert np.allclose(g, g.T) and (g.to_numpy() >= 0).all()
    assert len(list(tmp_path.glob("*.json"))) == 1
    again = linguistics.lang2vec_distances(langs, ["genetic", "syntactic"], cache=tmp_path)
    assert again["syntactic"].equals(got["syntactic"])
    agree = linguistics.agreement(got, linguistics.paper_distances(langs, ["genetic", "syntactic"]))
    assert agree["genetic"] > 0.9
    with pytest.raises(Exception, match="no ISO 639-3"):
        linguistics.lang2vec_distances(["xx"], ["genetic"], cache=tmp_path)


def test_mantel_permutes_whole_languages():
    langs = [f"l{i}" for i in range(9)]
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 1, (9, 9))
    sim = frame((x + x.T) / 2, langs)
    cos = frame(sim.to_numpy() + 0.05 * rng.standard_normal((9, 9)), langs)
    cos = (cos + cos.T) / 2
    r, p = linguistics.mantel(cos, sim, permutations=999)
    assert r > 0.9 and p <= 0.002
    y = rng.uniform(0, 1, (9, 9))
    r0, p0 = linguistics.mantel(frame((y + y.T) / 2, langs), sim, permutations=999)
    assert p0 > 0.05
    # one language consistent with everyone inflates Pearson's p over pairs far more than the Mantel p
    skew = cos.copy()
    skew.loc["l0", :] += 1
    skew.loc[:, "l0"] += 1
    corr = linguistics.correlations(skew, {"genetic": 1 - sim}, permutations=999)
    assert set(corr.columns) >= {"direct_r", "direct_p", "mantel_p", "split_r"}
