"""Concept directions, one per layer, from the training pairs of one concept in one language.

Every method returns an array ``[L, D]`` whose sign is calibrated on the training pairs: the
positive side projects higher on average. Methods:

- ``mean_diff``: mean(positive) - mean(negative), the paper's concept vector (cluster means).
- ``pca``: first principal component of the paired differences, each pair's order flipped at
  random (seeded) as RepE does, so that the component finds the axis rather than the mean.
- ``logreg``: the weight vector of a logistic regression separating positive from negative states
  (scikit-learn, standardised features), a supervised probe.
- ``random``: a random Gaussian direction (seeded), the chance baseline.
"""

from __future__ import annotations

import zlib

import numpy as np

METHODS = ("mean_diff", "pca", "logreg", "random")


def calibrate_sign(vectors: np.ndarray, mean_diff: np.ndarray) -> np.ndarray:
    """Flip each layer's vector so the training differences project positive on average.

    ``vectors``: ``[L, D]``; ``mean_diff``: ``[L, D]``, the mean of the training differences
    (positive - negative); the mean projection is its dot product with the vector.
    """
    mean_proj = np.sum(vectors * mean_diff, axis=-1)
    return vectors * np.where(mean_proj < 0, -1.0, 1.0)[:, None].astype(vectors.dtype)


def _seed(seed: int, tag: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(tag.encode())])


def concept_vectors(pos: np.ndarray, neg: np.ndarray, method: str = "mean_diff", seed: int = 0,
                    tag: str = "") -> np.ndarray:
    """Concept direction per layer from paired training states.

    ``pos``, ``neg``: ``[N, L, D]`` float arrays, row i of each the same item. Returns ``[L, D]``
    float32. ``tag`` (e.g. ``"fairness/en"``) decorrelates the seeded methods across sets.
    """
    if pos.shape != neg.shape or pos.ndim != 3 or len(pos) == 0:
        raise ValueError(f"pos and neg must be equal non-empty [N, L, D] arrays, got {pos.shape} and {neg.shape}")
    n, layers, dim = pos.shape
    mean_diff = pos.mean(0, dtype=np.float64) - neg.mean(0, dtype=np.float64)  # float64 accumulation
    if method == "mean_diff":
        return mean_diff.astype(np.float32)  # positive on its own training pairs by construction
    if method == "pca":
        diffs = pos.astype(np.float64) - neg
        flips = _seed(seed, "pca/" + tag).choice([-1.0, 1.0], size=n)
        flipped = diffs * flips[:, None, None]
        centred = flipped - flipped.mean(0, keepdims=True)
        vectors = np.empty((layers, dim))
        for layer in range(layers):  # one SVD a layer; L is small
            _, _, vt = np.linalg.svd(centred[:, layer], full_matrices=False)
            vectors[layer] = vt[0]
    elif method == "logreg":
        from sklearn.linear_model import LogisticRegression

        labels = np.r_[np.ones(n), np.zeros(n)]
        vectors = np.empty((layers, dim))
        for layer in range(layers):
            x = np.concatenate([pos[:, layer], neg[:, layer]]).astype(np.float64)
            scale = x.std(0) + 1e-8
            clf = LogisticRegression(C=1.0, max_iter=2000).fit((x - x.mean(0)) / scale, labels)
            vectors[layer] = clf.coef_[0] / scale  # back to the raw feature space
    elif method == "random":
        return random_vectors(mean_diff, [seed], tag)[0]
    else:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")
    return calibrate_sign(vectors, mean_diff).astype(np.float32)


def random_directions(shape: tuple[int, int], seeds, tag: str = "") -> np.ndarray:
    """Seeded random Gaussian directions ``[len(seeds), L, D]`` float32 (not yet sign-calibrated)."""
    return np.stack([_seed(s, "random/" + tag).standard_normal(shape) for s in seeds]).astype(np.float32)


def random_vectors(mean_diff: np.ndarray, seeds, tag: str = "") -> np.ndarray:
    """Seeded random Gaussian directions, ``[len(seeds), L, D]`` float32, each sign-calibrated
    against ``mean_diff`` (``[L, D]``, the mean training difference): the chance baseline."""
    return np.stack([calibrate_sign(r, mean_diff) for r in random_directions(mean_diff.shape, seeds, tag)])
