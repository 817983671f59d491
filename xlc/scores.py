"""Scores of each target item on each source language's concept vector fitted without the item's fold.

Two scorers with the same methods (S source languages, T targets, N items, K folds, B1 replicates):

- ``outer(l, weights) -> [T, N, S, B1]``: item j's positive-minus-negative state projected on the vector
  fitted on the other folds, with item weights ``weights[:, b]`` (a bootstrap replicate's draw);
- ``inner(l) -> [T, N, S, K]``: the same without fold k as well (the inner cross-validation that picks a
  layer without peeking);
- ``texts(l) -> ([T, N, S], [T, N, S])``: positive and negative texts scored one by one (AUC);
- ``vectors(l, weights) -> [B1, S, D]``: the run's vectors (training items) under each replicate's weights.

:class:`GramScorer` serves ``mean_diff``: with item weights ``c`` the vector is ``sum_i c_i d_i`` up to a
positive factor no sign depends on, so every score is a row of the Gram matrix of the pair differences
times the weights, and all replicates refit the vectors in one matrix product per layer.
:class:`FixedScorer` serves every method by fitting vectors with :func:`xlc.vectors.concept_vectors`, once
per fold and per pair of folds; its scores do not depend on the weights (vectors held fixed).
"""

from __future__ import annotations

import numpy as np

from xlc import vectors as V


class GramScorer:
    """``mean_diff``: scores of every target item on every source's vector for any item weights, from the
    Gram matrix of the pair differences (one matrix product per layer for all replicates)."""

    def __init__(self, data, method: str, seed: int):
        self.data = data
        f = data.folds
        used = f >= 0
        K = len(data.tested)
        self.mask_out = ((f[:, None] != f[None, :]) & used[None, :] & used[:, None]).astype(np.float32)  # [N(j), N(i)]
        self.by_fold = (f[:, None] == np.arange(K)[None, :]).astype(np.float32)  # [N(i), K]
        tested = data.tested[np.maximum(f, 0)] & used
        self.final = (used & ~tested) if not data.tested.all() else used  # the run's vectors: training items
        self.diffs = data.diffs
        self._layer, self._gram, self._out = -1, None, None

    def _grams(self, l: int) -> np.ndarray:
        """``[T, N(j), S, N(i)]`` dot products of every item's difference with every other's at layer l."""
        if self._layer != l:
            x = np.ascontiguousarray(self.diffs[:, :, l]).reshape(-1, self.diffs.shape[-1])
            S, N = self.data.present.shape
            self._layer, self._gram = l, (x @ x.T).reshape(S, N, S, N)
        return self._gram

    def outer(self, l: int, weights: np.ndarray) -> np.ndarray:
        """``[T, N, S, B1]``: sum over items i of other folds of gram[t, j, s, i] * weights[i, b]."""
        gram = self._grams(l)
        T, N, S, _ = gram.shape
        if self._out is None or self._out.shape[-1] != weights.shape[1]:
            self._out = np.empty((T, N, S, weights.shape[1]), dtype=np.float32)  # reused at every layer
        masked = gram * self.mask_out[None, :, None, :]
        np.matmul(masked.reshape(T * N * S, N), weights, out=self._out.reshape(T * N * S, -1))
        return self._out

    def inner(self, l: int) -> np.ndarray:
        """``[T, N, S, K]``: item j's score on vectors fitted without its own fold and without fold k."""
        gram = self._grams(l)
        T, N, S, _ = gram.shape
        part = (gram.reshape(T * N * S, N) @ (self.by_fold * self.final[:, None])).reshape(T, N, S, -1)  # per fold
        own = np.take_along_axis(part, np.maximum(self.data.folds, 0)[None, :, None, None], 3)
        return part.sum(3, keepdims=True) - own - part

    def texts(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        """``[T, N, S]`` scores of positive and negative texts one by one (for AUC), on the vectors of the
        other folds, each normalised by its number of training items."""
        d = self.data
        S, N = d.present.shape
        flat = np.ascontiguousarray(self.diffs[:, :, l]).reshape(S * N, -1)
        count = self.mask_out @ (d.present & ~d.tied).T.astype(np.float32)  # [N(j), S]
        scale = 1.0 / np.maximum(count, 1)[None, :, :]
        out = []
        for states in (d.pos, d.neg):
            dots = (np.ascontiguousarray(states[:, :, l]).reshape(S * N, -1) @ flat.T).reshape(S, N, S, N)
            out.append((dots * self.mask_out[None, :, None, :]).sum(3) * scale)
        return out[0], out[1]

    def vectors(self, l: int, weights: np.ndarray) -> np.ndarray:
        """``[B1, S, D]``: the run's vectors (training items) under each replicate's weights."""
        return np.einsum("snd,nb->bsd", self.diffs[:, :, l], weights * self.final[:, None], optimize=True)

    def final_vectors(self) -> np.ndarray:
        n = np.maximum((self.data.present & self.final[None]).sum(1), 1)
        return (np.einsum("snld,n->sld", self.diffs, self.final.astype(np.float32)) / n[:, None, None]).astype(np.float32)


class FixedScorer:
    """Any method: vectors fitted once per fold (and per pair of folds, for the inner cross-validation) with
    :func:`xlc.vectors.concept_vectors`; scores do not depend on the replicate's weights."""

    def __init__(self, data, method: str, seed: int):
        self.data, self.method, self.seed = data, method, seed
        f, K = data.folds, len(data.tested)
        used = f >= 0
        tested = data.tested[np.maximum(f, 0)] & used
        self.final = (used & ~tested) if not data.tested.all() else used
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

    def _project(self, states: np.ndarray, l: int) -> np.ndarray:
        """``[T, N, D]`` states, each on the vectors of the folds other than its own -> ``[T, N, S]``."""
        fitted = self.fold[np.maximum(self.data.folds, 0)][:, :, l]  # [N, S, D]
        return np.einsum("tnd,nsd->tns", states, fitted, optimize=True)

    def outer(self, l: int, weights: np.ndarray) -> np.ndarray:
        scores = self._project(self.data.diffs[:, :, l], l)
        return np.repeat(scores[..., None], weights.shape[1], axis=3)

    def inner(self, l: int) -> np.ndarray:
        d = self.data
        f = np.maximum(d.folds, 0)
        K = len(d.tested)
        diffs = d.diffs[:, :, l]
        out = np.zeros(diffs.shape[:2] + (len(d.languages), K), dtype=np.float32)
        for k in range(K):
            at_k = out[..., k]  # a view: [T, N, S]
            for m in range(K):
                if k != m:
                    rows = f == m
                    at_k[:, rows] = np.einsum("tnd,sd->tns", diffs[:, rows], self.pair[k, m][:, l])
        return out

    def texts(self, l: int) -> tuple[np.ndarray, np.ndarray]:
        return self._project(self.data.pos[:, :, l], l), self._project(self.data.neg[:, :, l], l)

    def vectors(self, l: int, weights: np.ndarray) -> np.ndarray:
        out = np.full((weights.shape[1],) + self.run_vectors[:, l].shape, np.nan, dtype=np.float32)
        out[0] = self.run_vectors[:, l]  # fitted once: no replicates
        return out

    def final_vectors(self) -> np.ndarray:
        return self.run_vectors
