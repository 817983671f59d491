"""Scores of each target item on each source language's concept vector fitted without the item's fold.

Two scorers with the same methods (S source languages, T targets, N items, K folds, B1 replicates):

- ``outer(l, weights) -> [T, N, S, B1]``: item j's positive-minus-negative state projected on the vector
  fitted on the other folds, with item weights ``weights[:, b]`` (a bootstrap replicate's draw);
- ``inner(l) -> [T, N, S, K]``: the same without fold k as well (the inner cross-validation that picks a
  layer without peeking);
- ``texts(l) -> ([T, N, S], [T, N, S])``: positive and negative texts scored one by one (AUC);
- ``vectors(l, weights) -> [B1, S, D]``: the run's vectors (training items) under each replicate's weights.

:class:`MeanDiffScorer` serves ``mean_diff``: with item weights ``c`` the vector is ``sum_i c_i d_i`` up to a
positive factor no sign depends on, so it refits the vectors of every replicate. A score is
``x_j . (X^T c)``: for one set of weights the vectors are formed first; for many replicates the Gram matrix
``x_j . X^T`` is formed once per layer and multiplied by all the weights at once, the cheaper association of
the same product. :class:`FixedScorer` serves every method by fitting vectors with
:func:`xlc.vectors.concept_vectors`, once per fold and per pair of folds; its scores do not depend on the
weights (vectors held fixed).
"""

from __future__ import annotations

import numpy as np

from xlc import vectors as V


def _by_fold(states: np.ndarray, fitted: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Each item's state on the vectors of its own fold: ``states`` ``[T, N, D]``, ``fitted`` ``[K, S, D]`` or
    ``[K, S, D, B]`` -> ``[T, N, S]`` or ``[T, N, S, B]`` (items of no fold score 0)."""
    T, N, D = states.shape
    K, S = fitted.shape[:2]
    rest = fitted.shape[3:]
    out = np.zeros((T, N, S) + rest, dtype=np.float32)
    for k in range(K):
        rows = np.flatnonzero(folds == k)
        if len(rows):
            w = np.moveaxis(fitted[k], 1, 0).reshape(D, -1)  # [D, S * B]
            out[:, rows] = (states[:, rows].reshape(-1, D) @ w).reshape((T, len(rows), S) + rest)
    return out


def _weighted_sums(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``x`` ``[S, N, D]`` summed over items with ``weights`` ``[N, K]``: ``[K, S, D]``."""
    return np.matmul(weights.T[None], x).transpose(1, 0, 2)


def run_items(data) -> np.ndarray:
    """``[N]`` the items the run's own vectors are fitted on: every used item under cross-validation, the
    training items under the paper's split."""
    used = data.folds >= 0
    if data.tested.all():
        return used
    return used & ~data.tested[np.maximum(data.folds, 0)]


class MeanDiffScorer:
    """``mean_diff``: the vectors of any item weights, refitted for every replicate."""

    def __init__(self, data, method: str, seed: int):
        self.data = data
        f = data.folds
        used = f >= 0
        K = len(data.tested)
        # training items of fold k's vectors: every used item of another fold
        self.train = ((f[:, None] != np.arange(K)[None, :]) & used[:, None]).astype(np.float32)  # [N, K]
        self.mask_out = ((f[:, None] != f[None, :]) & used[None, :] & used[:, None]).astype(np.float32)  # [N(j), N(i)]
        self.final = run_items(data)
        # layer by layer, each layer one contiguous block: [L, S, N, D]
        self.by_layer = {name: np.ascontiguousarray(a.transpose(2, 0, 1, 3))
                         for name, a in (("diffs", data.diffs), ("pos", data.pos), ("neg", data.neg))}
        self._out = None  # score buffer of the replicates, reused at every layer

    def _x(self, l: int) -> np.ndarray:
        return self.by_layer["diffs"][l]  # [S, N, D]

    def outer(self, l: int, weights: np.ndarray) -> np.ndarray:
        """``[T, N, S, B1]``: item j's difference on the sum of the weighted differences of the other folds."""
        x = self._x(l)
        S, N, D = x.shape
        B1 = weights.shape[1]
        if S * N * N * (D + B1) > S * N * D * B1 * (len(self.train.T) + S):
            # few weight vectors: form each fold's vectors, then project
            K = self.train.shape[1]
            w = (self.train[:, :, None] * weights[:, None, :]).reshape(N, K * B1)
            fitted = _weighted_sums(x, w).reshape(K, B1, S, D).transpose(0, 2, 3, 1)  # [K, S, D, B1]
            return _by_fold(x, fitted, self.data.folds)
        # many: the Gram matrix once, times every replicate's weights (masked to the other folds)
        flat = x.reshape(S * N, D)
        gram = (flat @ flat.T).reshape(S, N, S, N) * self.mask_out[None, :, None, :]
        if self._out is None or self._out.shape[-1] != B1:
            self._out = np.empty((S, N, S, B1), dtype=np.float32)  # allocating it afresh costs more than the product
        np.matmul(gram.reshape(S * N * S, N), weights, out=self._out.reshape(S * N * S, B1))
        return self._out

    def inner(self, l: int) -> np.ndarray:
        """``[T, N, S, K]``: item j's score on the vectors fitted without its own fold and without fold k."""
        x = self._x(l)
        S, N, D = x.shape
        per_fold = _weighted_sums(x, (1 - self.train) * self.final[:, None])  # each fold's sum [K, S, D]
        total = per_fold.sum(0)
        K = len(per_fold)
        out = np.zeros((S, N, S, K), dtype=np.float32)
        for m in range(K):  # items of fold m, on vectors without m and k, for every k
            rows = np.flatnonzero(self.data.folds == m)
            if len(rows):
                without = (total[None] - per_fold[m][None] - per_fold).reshape(K * S, D)  # k = m is never read
                out[:, rows] = (x[:, rows].reshape(-1, D) @ without.T).reshape(S, len(rows), K, S).transpose(0, 1, 3, 2)
        return out

    def texts(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        """``[T, N, S]`` scores of positive and negative texts one by one (for AUC), on the vectors of the
        other folds, each the mean of its training items' differences."""
        d = self.data
        x = self._x(l)
        count = self.train.T @ (d.present & ~d.tied).T.astype(np.float32)  # [K, S] training pairs
        fitted = _weighted_sums(x, self.train) / np.maximum(count, 1)[:, :, None]
        return (_by_fold(self.by_layer["pos"][l], fitted, d.folds), _by_fold(self.by_layer["neg"][l], fitted, d.folds))

    def vectors(self, l: int, weights: np.ndarray) -> np.ndarray:
        """``[B1, S, D]``: the run's vectors (training items) under each replicate's weights."""
        return np.matmul((weights * self.final[:, None]).T[None], self._x(l)).transpose(1, 0, 2)

    def final_vectors(self) -> np.ndarray:
        n = np.maximum((self.data.present & self.final[None]).sum(1), 1)
        return (np.einsum("snld,n->sld", self.data.diffs, self.final.astype(np.float32)) / n[:, None, None]).astype(np.float32)


class FixedScorer:
    """Any method: vectors fitted once per fold (and per pair of folds, for the inner cross-validation) with
    :func:`xlc.vectors.concept_vectors`; scores do not depend on the replicate's weights."""

    def __init__(self, data, method: str, seed: int):
        self.data, self.method, self.seed = data, method, seed
        f, K = data.folds, len(data.tested)
        used = f >= 0
        self.final = run_items(data)
        self.fold = np.stack([self._fit(used & (f != k)) for k in range(K)])  # [K, S, L, D]
        self.pair = {}  # (k, m) -> vectors fitted without folds k and m
        if data.tested.all():
            for k in range(K):
                for m in range(k + 1, K):
                    self.pair[k, m] = self.pair[m, k] = self._fit(used & (f != k) & (f != m))
        self.run_vectors = self._fit(self.final)

    def _fit(self, train: np.ndarray) -> np.ndarray:
        d = self.data
        out = np.zeros(d.pos.shape[:1] + d.pos.shape[2:], dtype=np.float32)
        for s, lang in enumerate(d.languages):
            rows = np.flatnonzero(train & d.present[s] & ~d.tied[s])
            if len(rows):
                out[s] = V.concept_vectors(d.pos[s, rows], d.neg[s, rows], self.method, self.seed,
                                           f"{d.concept}/{lang}")
        return out

    def outer(self, l: int, weights: np.ndarray) -> np.ndarray:
        scores = _by_fold(np.ascontiguousarray(self.data.diffs[:, :, l]), self.fold[:, :, l], self.data.folds)
        return np.broadcast_to(scores[..., None], scores.shape + (weights.shape[1],))  # the same for every replicate

    def inner(self, l: int) -> np.ndarray:
        d = self.data
        K = len(d.tested)
        diffs = d.diffs[:, :, l]
        out = np.zeros(diffs.shape[:2] + (len(d.languages), K), dtype=np.float32)
        for m in range(K):
            rows = d.folds == m
            if rows.any():
                pairs = np.stack([self.pair[k, m][:, l] if k != m else np.zeros_like(self.pair[(m + 1) % K, m][:, l])
                                  for k in range(K)])  # [K, S, D]
                out[:, rows] = np.einsum("tnd,ksd->tnsk", diffs[:, rows], pairs, optimize=True)
        return out

    def texts(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        d = self.data
        return (_by_fold(np.ascontiguousarray(d.pos[:, :, l]), self.fold[:, :, l], d.folds),
                _by_fold(np.ascontiguousarray(d.neg[:, :, l]), self.fold[:, :, l], d.folds))

    def vectors(self, l: int, weights: np.ndarray) -> np.ndarray:
        out = np.full((weights.shape[1],) + self.run_vectors[:, l].shape, np.nan, dtype=np.float32)
        out[0] = self.run_vectors[:, l]  # fitted once: no replicates
        return out

    def final_vectors(self) -> np.ndarray:
        return self.run_vectors
