"""One concept, every language: recognition and transfer under cross-validation (or the paper's split),
the layer chosen without peeking, consistency, AUC, chance, and bootstrap replicates of all of them.

Axes: S source languages and T target languages (the same list), N aligned items, L layers, D hidden
size, K folds, B bootstrap replicates plus one (replicate 0 is the data as they are).

How a number is made. For each fold k, a source language's concept vector is fitted on the items of the
other folds; each item of fold k is scored on it in every target language (its positive minus negative
state, projected), and it is recognised when that score is positive. Accuracies pool the tested items
over the folds, each item counted once. The layer of a headline number is chosen *inside* each training
fold, never on the items it is tested on: within the other K - 1 folds, an inner cross-validation (each
of them held out in turn, vectors fitted on the remaining K - 2) gives an accuracy per layer, the best
layer is kept, and fold k is scored at that layer. The paper's "best layer" (the maximum over layers of
the test accuracy itself, an oracle) is kept beside it.

Bootstrap. Each replicate draws the aligned items with replacement (the same draw in every language; an
item keeps its fold) and refits every vector with the drawn items; accuracies at every layer, at the
chosen layers and at the oracle layer, Delta and consistency are recomputed. The chosen layers are those
of the data as they are (rerunning the inner cross-validation in each replicate would multiply the cost
by K). For ``mean_diff`` the vector fitted with item weights ``c`` is ``sum_i c_i d_i`` (up to a positive
factor that no sign depends on), so a score is ``sum_i c_i (d_j . d_i)``: all replicates come from the
Gram matrix of the pair differences times the matrix of weights, one matrix product per layer. Other
methods are fitted once per fold; their replicates resample the tested items with the vectors held fixed
(narrower intervals; the run records which).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from xlc import scores, stats
from xlc import vectors as V
from xlc.errors import XlcError


@dataclass
class ConceptData:
    """The hidden states of one concept, aligned over the items of every language.

    Items are ordered by fold, so that each fold is one run of consecutive items.
    """

    concept: str
    languages: list[str]        # S
    keys: list[str]             # N
    pos: np.ndarray             # [S, N, L, D] float32, zeros where an item is absent
    neg: np.ndarray             # [S, N, L, D]
    present: np.ndarray         # [S, N] bool
    tied: np.ndarray            # [S, N] bool: both texts gave the same token ids: scored as exact ties
    folds: np.ndarray           # [N] fold of each item (-1: not used)
    tested: np.ndarray          # [K] bool: which folds are tested

    @cached_property
    def diffs(self) -> np.ndarray:
        """``[S, N, L, D]`` positive minus negative states; exactly zero for tied or absent pairs."""
        d = self.pos - self.neg
        d[self.tied | ~self.present] = 0.0
        return d


def assemble(concept: str, languages: list[str], keys_by_lang: dict[str, list[str]],
             states: dict[str, np.ndarray], tied: dict[str, np.ndarray], folds) -> ConceptData:
    """Place each language's states (``[2n, L, D]``: its n positives then its n negatives, in its own
    order of ``keys_by_lang[lang]``) on the aligned items of every language. ``folds``: a
    :class:`xlc.data.Folds`."""
    every = sorted({k for lang in languages for k in keys_by_lang[lang]})
    fold = folds.index(every)
    # by fold; within a fold in a fixed pseudo-random order (not by key, whose groups are topics), so that
    # cutting a fold in two gives two comparable halves (see xlc.stats.corrected_replicates)
    scramble = np.array([zlib.crc32(k.encode()) for k in every])
    order = np.lexsort((scramble, np.where(fold < 0, len(folds.folds), fold)))
    keys = [every[i] for i in order]
    fold = fold[order]
    where = {k: i for i, k in enumerate(keys)}
    first = states[languages[0]]
    S, N, (L, D) = len(languages), len(keys), first.shape[1:]
    pos = np.zeros((S, N, L, D), dtype=np.float32)
    neg = np.zeros((S, N, L, D), dtype=np.float32)
    present = np.zeros((S, N), dtype=bool)
    tie = np.zeros((S, N), dtype=bool)
    for s, lang in enumerate(languages):
        rows = np.array([where[k] for k in keys_by_lang[lang]], dtype=np.intp)
        n = len(rows)
        pos[s, rows], neg[s, rows] = states[lang][:n], states[lang][n:]
        present[s, rows] = True
        tie[s, rows] = tied[lang]
    return ConceptData(concept, list(languages), keys, pos, neg, present, tie, fold, np.asarray(folds.tested))


@dataclass
class ConceptResult:
    """Everything measured for one concept. Replicate 0 of every ``[B+1, ...]`` array is the point estimate."""

    concept: str
    languages: list[str]
    keys: list[str]             # [N]
    method: str
    vectors: np.ndarray         # [S, L, D] concept vectors fitted on the training items of the whole run
    accuracy: np.ndarray        # [B+1, S, T, L] Acc(source -> target) at each layer, pooled over the folds
    selected: np.ndarray        # [B+1, S, T] at the layer chosen without peeking (the oracle under the paper's split)
    oracle: np.ndarray          # [B+1, S, T] at the best layer on the test items themselves (the paper's)
    chosen: np.ndarray          # [S, T, K] layer (1..L) chosen in each tested fold, 0 for folds not tested
    cosine: np.ndarray          # [B+1, S, S, L] consistency; replicates (centred on the estimate) NaN when not refitted
    auc: np.ndarray             # [S, T, L] positive and negative texts scored as separate items
    outcomes: np.ndarray        # [S, T, N, L] per-item outcomes: 1 recognised, 0 not, 0.5 a tie (0 where not tested)
    tested: np.ndarray          # [T, N] bool, the items each target's accuracy counts
    tied: np.ndarray            # [T] pairs scored as ties (identical token ids)
    chance: np.ndarray          # [T, R, L] accuracy of R random directions (the chance level), within language
    refit: bool                 # True: replicates refit the vectors; False: vectors held fixed
    surface: dict[str, np.ndarray] = field(default_factory=dict)  # baseline -> [B+1, S, T]

    @property
    def n_test(self) -> np.ndarray:
        return self.tested.sum(1)


def outcome(scores: np.ndarray) -> np.ndarray:
    """A pair's outcome from its score: 1 recognised (the positive projects higher), 0 not, and 0.5 for an
    exact tie (a pair whose two texts give the same tokens has a score of exactly 0: a coin flip, as float noise
    decided it before). Float32, the shape of ``scores``."""
    return (scores > 0).astype(np.float32) + np.float32(0.5) * (scores == 0)


def analyse(data: ConceptData, method: str = "mean_diff", seed: int = 0, n_boot: int = 1000,
            chance_directions: int = 16, surface: dict[str, np.ndarray] | None = None,
            progress=None) -> ConceptResult:
    """Measure one concept. ``surface``: ``{baseline: [S, T, N]}`` per-pair outcomes (0, 0.5, 1; NaN
    where not scored) of text-only baselines, resampled with the same bootstrap draws as the model.
    ``progress``: called with 1 after each layer of each of the two passes."""
    if method not in V.METHODS:
        raise ValueError(f"unknown method {method!r}; use one of {', '.join(V.METHODS)}")
    S, N, L, D = data.pos.shape
    K = len(data.tested)
    cv = bool(data.tested.all())
    f = np.maximum(data.folds, 0)
    tested = data.present & (data.folds >= 0)[None] & data.tested[f][None]  # [T, N]
    if not tested.any(1).all():
        lang = data.languages[int(np.flatnonzero(~tested.any(1))[0])]
        raise XlcError(f"{data.concept}, {lang}: no item is tested under this split; add items or check --split")
    n_test = tested.sum(1)
    refit = method == "mean_diff"
    scorer = (scores.MeanDiffScorer if refit else scores.FixedScorer)(data, method, seed)
    used = (data.folds >= 0).astype(np.float32)[:, None]
    step = progress or (lambda n: None)

    # ---- the data as they are: accuracy at every layer, the layer of each fold, AUC, consistency ----
    outcomes = np.zeros((S, S, N, L), dtype=np.float32)  # [S, T, N, L], 0 where not tested
    inner = np.zeros((L, S, S, K))  # [L, S, T, K]: inner cross-validation successes of outer fold k
    not_k = (f[:, None] != np.arange(K)[None, :]) & (data.folds >= 0)[:, None]  # [N, K]
    cosine = np.full((n_boot + 1, S, S, L), np.nan, dtype=np.float32)
    auc = np.empty((S, S, L))
    for l in range(L):
        won = outcome(scorer.outer(l, used)[..., 0])  # [T, N, S]
        outcomes[..., l] = (won * tested[:, :, None]).transpose(2, 0, 1)
        if cv:
            inner[l] = (outcome(scorer.inner(l)) * (tested[:, :, None, None] * not_k[None, :, None, :])).sum(1).transpose(1, 0, 2)
        pos_s, neg_s = scorer.texts(l)
        pos_s = np.where(data.tied[:, :, None], neg_s, pos_s)  # identical inputs: an exact tie
        auc[:, :, l] = _auc(pos_s, neg_s, tested).T
        cosine[:1, :, :, l] = _cosines(scorer.vectors(l, used))
        step(1)
    accuracy = outcomes.sum(2) / n_test[None, :, None]  # [S, T, L]
    oracle_layer = accuracy.argmax(2)  # [S, T], the lowest layer on ties
    chosen = np.zeros((S, S, K), dtype=np.int64)  # 1-based; 0 for a fold that is not tested
    if cv:
        chosen[:] = inner.argmax(0) + 1  # the best inner accuracy (equal denominators per fold), lowest on ties
    else:
        chosen[:, :, data.tested] = oracle_layer[..., None] + 1
    at_chosen = np.maximum(chosen[:, :, f] - 1, 0)  # [S, T, N]: the layer at which each item is scored
    sel_outcomes = np.take_along_axis(outcomes, at_chosen[..., None], 3)[..., 0]  # [S, T, N]
    selected = sel_outcomes.sum(2) / n_test[None]
    oracle = np.take_along_axis(accuracy, oracle_layer[..., None], 2)[..., 0]
    surface = {name: np.where(tested[None], o, 0.0) for name, o in (surface or {}).items()}
    surface_point = {name: o.sum(2) / n_test[None] for name, o in surface.items()}

    # ---- bootstrap replicates ----
    B = n_boot
    layer_reps = np.full((B, S, S, L), np.nan, dtype=np.float32)
    sel_reps = np.full((B, S, S), np.nan, dtype=np.float32)
    surf_reps = {name: np.full((B, S, S), np.nan, dtype=np.float32) for name in surface}
    if B:
        rng = np.random.default_rng([seed, zlib.crc32(("bootstrap/" + data.concept).encode())])
        idx = np.flatnonzero(data.folds >= 0)
        W = np.zeros((N, B), dtype=np.float32)  # each replicate's draw of the aligned items, the same in every language
        W[idx] = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=B).T
        w_test = tested[:, :, None] * W[None]  # [T, N, B]
        halves = _halves(data.folds, K)  # 2K runs of items: each fold cut in two
        den_h = _run_sums(w_test, halves).reshape(S, K, 2, B).sum(1)  # [T, 2, B]
        hits_l = np.zeros((L, S, S, 2, B), dtype=np.float32)  # [L, S, T, half, B]
        hits_sel = np.zeros((S, S, 2, B), dtype=np.float32)
        flag = np.empty((S, N, S, B), dtype=bool)
        counted = np.empty((S, N, S, B), dtype=np.float32)
        tie = np.empty((S, N, S, B), dtype=np.float32)
        for l in range(L):
            sc = scorer.outer(l, W)
            np.greater(sc, 0, out=flag)
            np.multiply(flag, w_test[:, :, None, :], out=counted)
            np.equal(sc, 0, out=flag)  # an exact tie counts one half, as above
            np.multiply(flag, w_test[:, :, None, :], out=tie)
            counted += np.float32(0.5) * tie
            part = _run_sums(counted, halves).reshape(S, K, 2, S, B)  # [T, K, half, S, B]
            hits_l[l] = part.sum(1).transpose(2, 0, 1, 3)
            hits_sel += np.einsum("stk,tkhsb->sthb", (chosen == l + 1).astype(np.float32), part)
            if refit:
                cosine[1:, :, :, l] = _cosines(scorer.vectors(l, W))
            step(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            den = den_h.sum(1)  # [T, B]
            refit_l = (hits_l.sum(3) / den[None, None]).transpose(3, 1, 2, 0)  # [B, S, T, L]
            half_l = (hits_l / den_h[None, None]).transpose(3, 4, 1, 2, 0)  # [half, B, S, T, L]
            refit_s = (hits_sel.sum(2) / den[None]).transpose(2, 0, 1)  # [B, S, T]
            half_s = (hits_sel / den_h[None]).transpose(2, 3, 0, 1)  # [half, B, S, T]
            # the data's own outcomes under each draw: the sampling of the tested items alone
            fixed_l = np.einsum("stnl,nb->bstl", outcomes, W) / den.T[:, None, :, None]
            fixed_s = np.einsum("stn,nb->bst", sel_outcomes, W) / den.T[:, None, :]
            for name, o in surface.items():  # rules fitted once per fold: paired with the model's draws
                draws = np.einsum("stn,nb->bst", o, W) / den.T[:, None, :]
                surf_reps[name] = surface_point[name] + (draws - draws.mean(0))
        layer_reps = stats.corrected_replicates(accuracy, fixed_l, refit_l, half_l[0], half_l[1])
        sel_reps = stats.corrected_replicates(selected, fixed_s, refit_s, half_s[0], half_s[1])
        if refit:
            # refitted cosines shrink towards 0 (noisier means): the spread of the replicates, centred on the estimate
            cosine[1:] = np.clip(cosine[:1] + cosine[1:] - cosine[1:].mean(0), -1, 1)
    oracle_reps = np.take_along_axis(layer_reps, np.broadcast_to(oracle_layer[None, ..., None], (B, S, S, 1)), 3)[..., 0]
    return ConceptResult(
        data.concept, data.languages, data.keys, method, scorer.final_vectors(),
        np.concatenate([accuracy[None], layer_reps]), np.concatenate([selected[None], sel_reps]),
        np.concatenate([oracle[None], oracle_reps]), chosen, cosine, auc, outcomes, tested,
        (data.tied & tested).sum(1), _chance(data, tested, chance_directions, seed), refit,
        {name: np.concatenate([surface_point[name][None], surf_reps[name]]) for name in surface})


def _halves(folds: np.ndarray, K: int) -> list[slice]:
    """Each fold's run of items cut into a first and a second half (items within a fold are in a
    pseudo-random order, see :func:`assemble`): 2K slices, fold by fold."""
    out = []
    for span in _spans(folds, K):
        mid = span.start + (span.stop - span.start) // 2
        out += [slice(span.start, mid), slice(mid, span.stop)]
    return out


def _spans(folds: np.ndarray, K: int) -> list[slice]:
    """The run of items of each fold (items are fold-ordered by :func:`assemble`); empty for an empty fold."""
    spans = []
    for k in range(K):
        where = np.flatnonzero(folds == k)
        spans.append(slice(int(where[0]), int(where[-1]) + 1) if len(where) else slice(0, 0))
    return spans


def _run_sums(x: np.ndarray, spans: list[slice]) -> np.ndarray:
    """Sums over the item axis (1) within each run of items: ``[T, N, ...] -> [T, len(spans), ...]``."""
    return np.stack([x[:, span].sum(1) for span in spans], 1)


def _cosines(vecs: np.ndarray) -> np.ndarray:
    """``[B1, S, D]`` -> ``[B1, S, S]`` cosines (0 where a vector is zero; NaN replicates stay NaN)."""
    gram = np.matmul(vecs, vecs.transpose(0, 2, 1))
    norms = np.sqrt(np.maximum(np.diagonal(gram, axis1=1, axis2=2), 0))
    norms = np.where(norms == 0, 1, norms)
    return np.clip(gram / norms[:, :, None] / norms[:, None, :], -1, 1)


def _auc(pos: np.ndarray, neg: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """``[T, S]`` area under the ROC curve of positive against negative texts of each target's tested items,
    scored one by one (``pos``, ``neg``: ``[T, N, S]``): the share of (positive, negative) pairs of texts in
    which the positive scores higher, ties counting one half."""
    out = np.full(tested.shape[:1] + pos.shape[2:], np.nan)
    for t in range(len(tested)):  # one target at a time: [N, N, S] comparisons
        p, q = pos[t, tested[t]], neg[t, tested[t]]
        if len(p):
            out[t] = outcome(p[:, None, :] - q[None, :, :]).mean((0, 1))
    return out


def _chance(data: ConceptData, tested: np.ndarray, directions: int, seed: int) -> np.ndarray:
    """``[T, R, L]``: accuracy of R seeded random directions in each language, each sign-calibrated on the
    training folds like a concept vector (the chance level of the protocol)."""
    S, N, L, D = data.pos.shape
    out = np.full((S, directions, L), np.nan)
    if not directions:
        return out
    diffs = data.diffs
    f = np.maximum(data.folds, 0)
    for t, lang in enumerate(data.languages):
        r = V.random_directions((L, D), range(seed, seed + directions), f"{data.concept}/{lang}")  # [R, L, D]
        proj = np.einsum("nld,rld->nrl", diffs[t], r)  # [N, R, L]
        sign = np.empty((len(data.tested), directions, L))
        for k in range(len(data.tested)):
            train = (data.folds >= 0) & (data.folds != k) & data.present[t]
            sign[k] = np.where(proj[train].sum(0) < 0, -1.0, 1.0)
        out[t] = outcome(proj * sign[f])[tested[t]].mean(0)
    return out


def cross_concept(vectors: dict[str, tuple[list[str], np.ndarray]], data: ConceptData) -> np.ndarray:
    """Other concepts' vectors scored on this concept's pairs: are the concepts distinct directions?

    ``vectors``: ``{concept A: (its languages, [S_A, L, D] vectors)}``. Returns ``[A, S, L]``: the share of
    this concept's items (all of them, present and not tied) whose difference projects positive on A's
    vector of the same language, a tie counting one half (NaN where A lacks the language).
    """
    S, N, L, D = data.pos.shape
    diffs = data.diffs
    ok = data.present & (data.folds >= 0)[None]
    out = np.full((len(vectors), S, L), np.nan)
    for a, (langs, vecs) in enumerate(vectors.values()):
        for s, lang in enumerate(data.languages):
            if lang in langs:
                out[a, s] = outcome(np.einsum("nld,ld->nl", diffs[s, ok[s]], vecs[langs.index(lang)])).mean(0)
    return out
