import numpy as np
import pytest

from xlc import vectors


def planted(n=60, L=3, D=16, seed=0, strength=1.0):
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal((L, D))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    base = rng.standard_normal((n, L, D))
    pos = base + strength * direction + 0.3 * rng.standard_normal((n, L, D))
    neg = base - strength * direction + 0.3 * rng.standard_normal((n, L, D))
    return pos, neg, direction


@pytest.mark.parametrize("method", ["mean_diff", "pca", "logreg"])
def test_methods_find_a_planted_direction(method):
    pos, neg, direction = planted()
    v = vectors.concept_vectors(pos, neg, method, seed=0, tag="x")
    assert v.shape == direction.shape and v.dtype == np.float32
    cos = np.sum(v * direction, 1) / np.linalg.norm(v, axis=1)
    assert (cos > 0.8).all(), cos  # right axis AND right sign


def test_mean_diff_is_the_difference_of_means():
    rng = np.random.default_rng(3)
    pos, neg = rng.standard_normal((2, 10, 2, 5))
    np.testing.assert_allclose(vectors.concept_vectors(pos, neg), pos.mean(0) - neg.mean(0), rtol=1e-5)


def test_sign_is_calibrated_on_training_pairs():
    pos, neg, direction = planted(strength=0.5)
    for seed in range(5):
        v = vectors.concept_vectors(pos, neg, "random", seed=seed)
        assert (np.einsum("ld,nld->l", v, pos - neg) >= 0).all()
    a = vectors.concept_vectors(pos, neg, "random", seed=0, tag="fairness/en")
    b = vectors.concept_vectors(pos, neg, "random", seed=0, tag="fairness/fr")
    assert not np.allclose(a, b)


def test_random_directions_are_near_chance_on_pure_noise():
    rng = np.random.default_rng(0)
    pos, neg = rng.standard_normal((2, 400, 1, 32))
    accs = []
    for seed in range(20):
        v = vectors.concept_vectors(pos[:200], neg[:200], "random", seed=seed)
        accs.append(float((np.einsum("nld,ld->nl", pos[200:] - neg[200:], v) > 0).mean()))
    assert 0.4 < np.mean(accs) < 0.6


def test_bad_shapes_and_method():
    with pytest.raises(ValueError):
        vectors.concept_vectors(np.zeros((2, 1, 3)), np.zeros((3, 1, 3)))
    with pytest.raises(ValueError, match="unknown method"):
        vectors.concept_vectors(np.ones((2, 1, 3)), np.zeros((2, 1, 3)), "svm")
