"""One concept, every language: concept vectors, transfer, consistency and the random baseline,
from hidden states, in a few passes over memory.

``analyse_concept`` returns arrays with named axes; ``tables`` turns any number of them into the
long tables of a run folder (one DataFrame each, built once).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from xlc import metrics, vectors
from xlc.data import PairSet, Split
from xlc.errors import XlcError

_BLAS = None


def _one_blas_thread():
    """The analysis multiplies many small matrices: one BLAS thread is faster than a team, and far
    faster when other processes share the cores (a spinning thread team then stalls)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


class ConceptStates(dict):
    """``{lang: [2N, L, D]}``, the hidden states of one concept. ``block`` is ``[S, 2N, L, D]`` (languages in
    key order) when the values are views of that one array, else None."""

    def __init__(self, arrays: dict[str, np.ndarray], block: np.ndarray | None = None):
        super().__init__(arrays)
        self.block = block


@dataclass
class ConceptResult:
    """Results of one concept. S = T = languages, L layers, D hidden size, N test pairs (padded)."""

    concept: str
    languages: list[str]
    vectors: np.ndarray          # [S, L, D] sign-calibrated concept vectors
    accuracy: np.ndarray         # [S, T, L] Acc(source -> target) per layer, in [0, 1]
    correct: np.ndarray          # [S, T, N, L] per-item outcomes (False where padded)
    cosine: np.ndarray           # [S, S, L] consistency, in [-1, 1]
    n_test: np.ndarray           # [T] test pairs per target
    test_keys: list[list[str]]   # per target, the keys of its test pairs in N order
    baseline: np.ndarray | None = field(default=None)  # [S, K, L] accuracy of K random directions


def analyse_concept(concept: str, pairsets: dict[str, PairSet], states: dict[str, np.ndarray], split: Split,
                    method: str = "mean_diff", seed: int = 0, baseline_directions: int = 16,
                    diff_sums: dict[str, np.ndarray] | None = None) -> ConceptResult:
    """``states[lang]``: ``[2N_lang, L, D]``, the positives then the negatives in ``pairsets[lang]`` order.

    ``diff_sums[lang]`` (optional, ``[L, D]``): the sum over all items of (positive - negative), as the
    activation cache keeps it. When every item is in the split, the mean training difference is then
    (sum - test differences) / n_train, and only the test pairs' states are read.
    """
    with _one_blas_thread():
        return _analyse(concept, pairsets, states, split, method, seed, baseline_directions, diff_sums or {})


def _analyse(concept, pairsets, states, split, method, seed, baseline_directions, diff_sums) -> ConceptResult:
    langs = list(pairsets)
    picks, first = [], pairsets[langs[0]]
    for lang in langs:
        ps = pairsets[lang]
        if picks and ps.keys == first.keys:  # parallel data: the same items in the same order
            picks.append(picks[0])
            continue
        _, tr = ps.select(split.train)
        te_keys, te = ps.select(split.test)
        if not tr or not te:
            raise XlcError(f"{ps.path}: no {'training' if not tr else 'test'} pairs under the split; "
                           "add items or check --split")
        picks.append((np.array(tr), np.array(te), te_keys))
    if (method == "mean_diff" and all(p is picks[0] for p in picks) and all(l in diff_sums for l in langs)
            and len(picks[0][0]) + len(picks[0][1]) == len(first)):
        return _analyse_aligned(concept, langs, states, picks[0], seed, baseline_directions, diff_sums)
    L, D = states[langs[0]].shape[1:]
    S, N = len(langs), max(len(te) for _, te, _ in picks)
    padded = np.zeros((L, S * N, D), dtype=np.float32)  # test differences, layer-major (metrics.transfer_by_layer)
    mask = np.zeros((S, N), dtype=bool)
    mean_d, vec = np.empty((S, L, D), dtype=np.float32), np.empty((S, L, D), dtype=np.float32)
    for s, lang in enumerate(langs):
        st, (tr, te, _) = states[lang], picks[s]
        n = len(pairsets[lang])
        test = st[te] - st[n + te]
        padded[:, s * N:s * N + len(te)] = test.transpose(1, 0, 2)
        if lang in diff_sums and len(tr) + len(te) == n:
            mean_d[s] = (diff_sums[lang] - test.sum(0, dtype=np.float64)) / len(tr)
        else:
            # mean(pos_train) - mean(neg_train) as one matrix-vector product: one read of the states
            weights = np.zeros(2 * n, dtype=np.float32)
            weights[tr], weights[n + tr] = 1.0 / len(tr), -1.0 / len(tr)
            mean_d[s] = (weights @ st.reshape(2 * n, L * D)).reshape(L, D)
        mask[s, :len(te)] = True
        if method == "mean_diff":
            vec[s] = mean_d[s]  # the paper's concept vector; positive on its training pairs by construction
        else:
            vec[s] = vectors.concept_vectors(st[tr], st[n + tr], method, seed, f"{concept}/{lang}")
    return _finish(concept, langs, vec, mean_d, padded, mask, [keys for _, _, keys in picks], seed,
                   baseline_directions)


def _analyse_aligned(concept, langs, states, pick, seed, baseline_directions, diff_sums) -> ConceptResult:
    """Every language has the same items in the same order and its cached difference sum: only the
    test pairs' states are read (as slices when they are consecutive rows, as ``Plan`` arranges them),
    and nothing is copied into another layout."""
    tr, te, te_keys = pick
    n, T = len(tr) + len(te), len(te)
    S, (L, D) = len(langs), states[langs[0]].shape[1:]
    block = getattr(states, "block", None)
    run = int(te[0]) if int(te[-1]) - int(te[0]) == T - 1 and (np.diff(te) == 1).all() else None
    if block is not None and run is not None and block.shape[:2] == (S, 2 * n) and list(states) == langs:
        # the test pairs are one run of rows in every language (Plan orders them so): two slices
        test = np.subtract(block[:, run:run + T], block[:, n + run:n + run + T])
    else:
        test = np.empty((S, T, L, D), dtype=np.float32)
        for s, lang in enumerate(langs):
            np.subtract(states[lang][te], states[lang][n + te], out=test[s])
    # mean training difference = (sum over all pairs - sum over the test pairs) / n_train
    vec = np.stack([diff_sums[lang] for lang in langs], dtype=np.float32)
    # the sum over each language's test pairs as a batched vector-matrix product (BLAS; numpy's reduction
    # over a middle axis is about twice as slow)
    vec -= np.matmul(np.ones(T, dtype=np.float32), test.reshape(S, T, L * D)).reshape(S, L, D)
    vec *= np.float32(1 / len(tr))
    by_layer = test.reshape(S * T, L, D).transpose(1, 0, 2)  # [L, S*T, D], a strided view BLAS reads in place
    mask = np.ones((S, T), dtype=bool)
    return _finish(concept, langs, vec, vec, by_layer, mask, [te_keys] * S, seed, baseline_directions)


def _finish(concept, langs, vec, mean_d, padded, mask, test_keys, seed, baseline_directions) -> ConceptResult:
    S, N = mask.shape
    L = vec.shape[1]
    accuracy, correct = metrics.transfer_by_layer(vec, padded, mask)
    result = ConceptResult(concept, langs, vec, accuracy, correct, metrics.consistency(vec), mask.sum(1), test_keys)
    if baseline_directions:
        # chance: K seeded random directions per language, sign-calibrated on its training pairs like the rest
        K = baseline_directions
        result.baseline = np.empty((S, K, L))
        for s, lang in enumerate(langs):
            R = vectors.random_vectors(mean_d[s], range(seed, seed + K), f"{concept}/{lang}")
            result.baseline[s] = metrics.transfer_by_layer(R, padded[:, s * N:(s + 1) * N], mask[s:s + 1])[0][:, 0]
    return result


@functools.lru_cache(maxsize=64)
def _grid(*shape: int) -> np.ndarray:
    """Row indices of a C-order array of ``shape``, one row per axis (read-only, shared)."""
    grid = np.indices(shape).reshape(len(shape), -1)
    grid.flags.writeable = False
    return grid


@functools.lru_cache(maxsize=64)
def _categories(values: tuple[str, ...]) -> pd.CategoricalDtype:
    return pd.CategoricalDtype(list(values))  # immutable: checked once, then reused


def tables(results: list[ConceptResult]) -> dict[str, pd.DataFrame | None]:
    """The long tables of a run folder from any number of concept results (one DataFrame each).

    ``transfer``: concept, source, target, layer (1..L), accuracy, n_test; ``consistency``: concept,
    source, target, layer, cosine; ``baseline``: concept, language, layer, accuracy, accuracy_std,
    n_directions, n_test (None when no baseline was computed). Text columns are categoricals built
    from integer codes (fast; they write to CSV as plain strings).
    """
    concepts = [r.concept for r in results]
    languages = sorted({l for r in results for l in r.languages})
    code = {l: i for i, l in enumerate(languages)}
    cols = {k: [] for k in ("concept", "source", "target", "layer", "accuracy", "n_test", "cosine")}
    base = {k: [] for k in ("concept", "language", "layer", "accuracy", "accuracy_std", "n_directions", "n_test")}
    for ci, r in enumerate(results):
        S, _, L = r.accuracy.shape
        lang_codes = np.array([code[l] for l in r.languages])
        src, tgt, lay = _grid(S, S, L)
        cols["concept"].append(np.full(src.size, ci))
        cols["source"].append(lang_codes[src])
        cols["target"].append(lang_codes[tgt])
        cols["layer"].append(lay + 1)
        cols["accuracy"].append(r.accuracy.ravel())
        cols["n_test"].append(r.n_test[tgt])
        cols["cosine"].append(r.cosine.ravel())
        if r.baseline is not None:
            ls, ll = _grid(S, L)
            base["concept"].append(np.full(ls.size, ci))
            base["language"].append(lang_codes[ls])
            base["layer"].append(ll + 1)
            base["accuracy"].append(r.baseline.mean(1).ravel())
            base["accuracy_std"].append(r.baseline.std(1).ravel())
            base["n_directions"].append(np.full(ls.size, r.baseline.shape[1]))
            base["n_test"].append(r.n_test[ls])
    # categorical columns from codes that index their categories by construction (no re-validation);
    # the key columns are built once and shared by both tables (pandas copies on write)
    kinds = {"concept": _categories(tuple(concepts)), "source": (lang := _categories(tuple(languages))),
             "target": lang, "language": lang}

    def column(name: str, parts: list[np.ndarray]):
        values = np.concatenate(parts)
        if name not in kinds:
            return values
        n = len(kinds[name].categories)
        codes = values.astype(np.int8 if n < 2 ** 7 else np.int16 if n < 2 ** 15 else np.int32)
        return pd.Categorical.from_codes(codes, dtype=kinds[name], validate=False)

    merged = {k: column(k, v) for k, v in cols.items()}
    keys = ["concept", "source", "target", "layer"]

    def frame(columns: dict, names: list[str]) -> pd.DataFrame:
        return pd.DataFrame({k: columns[k] for k in names}, copy=False)

    return {
        "transfer": frame(merged, keys + ["accuracy", "n_test"]),
        "consistency": frame(merged, keys + ["cosine"]),
        "baseline": frame({k: column(k, v) for k, v in base.items()}, list(base)) if base["concept"] else None,
    }


def outcomes(results: list[ConceptResult]) -> dict[str, np.ndarray]:
    """Per-item outcomes for ``outcomes.npz``: ``<concept>/correct`` [S, T, N, L] (0/1),
    ``<concept>/languages`` and ``<concept>/test_keys/<lang>``."""
    out = {}
    for r in results:
        out[f"{r.concept}/correct"] = r.correct.astype(np.uint8)
        out[f"{r.concept}/languages"] = np.array(r.languages)
        for lang, keys in zip(r.languages, r.test_keys):
            out[f"{r.concept}/test_keys/{lang}"] = np.array(keys)
    return out
