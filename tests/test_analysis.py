"""xlc.analysis against plain loops: cross-validated accuracy, the layer chosen by the inner
cross-validation, refitted bootstrap replicates, AUC, chance and the cross-concept scores."""

import numpy as np
import pytest

from xlc import analysis as A
from xlc import data as D
from xlc import stats


def synthetic(S=3, N=23, L=4, dim=8, missing=3, seed=0, tie=2):
    """Random states with a planted direction; the last language lacks ``missing`` items; item ``tie`` of
    every language (None: no item) has identical positive and negative states."""
    rng = np.random.default_rng(seed)
    keys = [f"g|{i:02d}" for i in range(N)]
    u = rng.standard_normal((L, dim))
    langs = ["en", "fr", "zh"][:S]
    states, keys_by, tied = {}, {}, {}
    for s, lang in enumerate(langs):
        ks = keys[:N - missing] if s == S - 1 else keys
        n = len(ks)
        base = rng.standard_normal((n, L, dim))
        pos = base + 0.3 * u + rng.standard_normal((n, L, dim))
        neg = base - 0.3 * u + rng.standard_normal((n, L, dim))
        if tie is not None:
            neg[tie] = pos[tie]
        states[lang] = np.concatenate([pos, neg]).astype(np.float32)
        keys_by[lang] = ks
        tied[lang] = np.arange(n) == (tie if tie is not None else -1)
    return langs, keys_by, states, tied, D.make_folds(keys, "x", 5)


def won(score):
    """1 when the positive projects higher, 0 when lower, one half for an exact tie."""
    return (score > 0) + 0.5 * (score == 0)


def loop(data, weights):
    """Per-fold hits and the inner cross-validation, one item and one vector at a time."""
    S, N, L, _ = data.pos.shape
    K, f, d = len(data.tested), data.folds, data.diffs
    hits = np.zeros((S, S, K, L))
    inner = np.zeros((S, S, K, L))
    for k in range(K):
        for s in range(S):
            v = sum(weights[i] * d[s, i] for i in range(N) if f[i] != k and data.present[s, i])
            for t in range(S):
                for j in range(N):
                    if not data.present[t, j]:
                        continue
                    if f[j] == k:
                        hits[s, t, k] += weights[j] * won(np.einsum("ld,ld->l", d[t, j], v))
                    else:
                        vi = sum(d[s, i] for i in range(N) if f[i] not in (k, f[j]) and data.present[s, i])
                        inner[s, t, k] += won(np.einsum("ld,ld->l", d[t, j], vi))
    return hits, inner


def test_point_estimates_and_layer_choice_match_plain_loops():
    langs, keys_by, states, tied, folds = synthetic()
    data = A.assemble("x", langs, keys_by, states, tied, folds)
    r = A.analyse(data, n_boot=0, chance_directions=4)
    hits, inner = loop(data, np.ones(len(data.keys)))
    n = data.present.sum(1)
    np.testing.assert_allclose(r.accuracy[0], hits.sum(2) / n[None, :, None], atol=1e-12)
    pick = inner.argmax(3)
    np.testing.assert_array_equal(r.chosen, pick + 1)
    want = np.take_along_axis(hits, pick[..., None], 3)[..., 0].sum(2) / n[None]
    np.testing.assert_allclose(r.selected[0], want, atol=1e-12)
    assert list(r.n_test) == [23, 23, 20] and list(r.tied) == [1, 1, 1]
    assert (r.outcomes[:, :, data.keys.index("g|02")] == 0.5).all()  # a tie: one half, at every layer
    np.testing.assert_allclose(r.oracle[0], r.accuracy[0].max(2))


def test_refitted_replicates_are_a_weighted_refit(monkeypatch):
    """The replicates refit every vector on the drawn items: what analyse hands to the correction equals a
    plain weighted refit with the same draws."""
    langs, keys_by, states, tied, folds = synthetic(missing=0)
    data = A.assemble("x", langs, keys_by, states, tied, folds)
    seen = []
    real = stats.corrected_replicates
    monkeypatch.setattr(stats, "corrected_replicates", lambda *a: seen.append(a) or real(*a))
    r = A.analyse(data, n_boot=3, chance_directions=0, seed=1)
    point, fixed, refit, half_a, half_b = seen[0]
    rng = np.random.default_rng([1, __import__("zlib").crc32(b"bootstrap/x")])
    N = len(data.keys)
    W = rng.multinomial(N, np.full(N, 1 / N), size=3).T
    for b in range(3):
        hits, _ = loop(data, W[:, b].astype(float))
        np.testing.assert_allclose(refit[b], hits.sum(2) / W[:, b].sum(), atol=1e-6)
    assert r.accuracy.shape == (4, 3, 3, 4) and np.isfinite(r.accuracy).all()


def test_every_method_through_one_path_and_mean_diff_agrees_with_fitting():
    langs, keys_by, states, tied, folds = synthetic()
    data = A.assemble("x", langs, keys_by, states, tied, folds)
    gram = A.analyse(data, n_boot=0, chance_directions=0)
    from xlc import scores
    fitted = scores.FixedScorer(data, "mean_diff", 0)
    refitted = scores.MeanDiffScorer(data, "mean_diff", 0)
    many = np.random.default_rng(3).integers(0, 3, size=(23, 200)).astype(np.float32)
    for l in range(4):
        one = refitted.outer(l, np.ones((23, 1)))
        np.testing.assert_array_equal(fitted.outer(l, np.ones((23, 1))) > 0, one > 0)
        # vectors first (one set of weights) or the Gram matrix first (many): the same scores
        both = refitted.outer(l, np.concatenate([np.ones((23, 1)), many], 1))
        np.testing.assert_allclose(both[..., :1], one, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(both[..., 1:2], refitted.outer(l, many[:, :1]), rtol=1e-4, atol=1e-3)
    for method in ("pca", "logreg", "random"):
        r = A.analyse(data, method=method, n_boot=5, chance_directions=0)
        assert r.accuracy.shape[1:] == gram.accuracy.shape[1:] and len(r.accuracy) == 6 and not r.refit
        assert np.isnan(r.cosine[1:]).all() and np.isfinite(r.cosine[0]).all()
    assert gram.refit and np.isfinite(gram.cosine[0]).all()


def test_paper_protocol_scores_the_test_fold_only_at_the_oracle_layer():
    langs, keys_by, states, tied, _ = synthetic(missing=0)
    split = D.make_split(keys_by["en"], "x", 0.25)
    data = A.assemble("x", langs, keys_by, states, tied, split)
    r = A.analyse(data, n_boot=4, chance_directions=0)
    assert list(r.n_test) == [len(split.folds[0])] * 3
    np.testing.assert_array_equal(r.selected[0], r.oracle[0])
    assert (r.chosen[:, :, 1] == 0).all() and (r.chosen[:, :, 0] == r.accuracy[0].argmax(2) + 1).all()


def test_auc_matches_scikit_learn_and_chance_is_near_one_half():
    from sklearn.metrics import roc_auc_score

    langs, keys_by, states, tied, folds = synthetic(S=1, missing=0, tie=None)
    data = A.assemble("x", langs, keys_by, states, tied, folds)
    r = A.analyse(data, n_boot=0, chance_directions=64)
    from xlc import scores
    sc = scores.MeanDiffScorer(data, "mean_diff", 0)
    for l in range(4):
        pos, neg = sc.texts(l)
        want = roc_auc_score(np.r_[np.ones(23), np.zeros(23)], np.r_[pos[0, :, 0], neg[0, :, 0]])
        assert r.auc[0, 0, l] == pytest.approx(want)
    assert r.chance.shape == (1, 64, 4)
    # with no concept in the states, random directions (sign-calibrated like a vector) sit at one half
    rng = np.random.default_rng(5)
    noise = {"en": rng.standard_normal((46, 4, 64)).astype(np.float32)}
    null = A.assemble("x", ["en"], keys_by, noise, {"en": np.zeros(23, bool)}, folds)
    assert abs(A.analyse(null, n_boot=0, chance_directions=200).chance.mean() - 0.5) < 0.03


def test_cross_concept_scores_a_vector_on_another_concepts_pairs():
    langs, keys_by, states, tied, folds = synthetic(missing=0, tie=None)
    data = A.assemble("x", langs, keys_by, states, tied, folds)
    own = A.analyse(data, n_boot=0, chance_directions=0)
    flipped = {"y": (langs, -own.vectors), "z": (["fr"], own.vectors[1:2])}
    x = A.cross_concept(flipped, data)
    direct = np.array([won(np.einsum("nld,ld->nl", data.diffs[s], own.vectors[s])).mean(0) for s in range(3)])
    np.testing.assert_allclose(x[0], 1 - direct)  # the opposite direction recognises the complement
    assert np.isnan(x[1, 0]).all() and np.isfinite(x[1, 1]).all() and np.isnan(x[1, 2]).all()
