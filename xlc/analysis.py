"""One concept, every language: concept vectors, transfer, consistency and the random baseline,
from hidden states, in a few passes over memory.

``analyse_concept`` returns arrays with named axes; ``tables`` turns any number of them into the
long tables of a run folder (one DataFrame each, built once).
"""

from __future__ import annotations

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
    """Every language has the same items in the same order and its cached difference sum: the mean
    training differences and the layer-major test differences come out of a few whole-array operations."""
    tr, te, te_keys = pick
    n = len(tr) + len(te)
    first = states[langs[0]]
    S, T, (L, D) = len(langs), len(te), first.shape[1:]
    test = np.empty((S, T, L, D), dtype=np.float32)
    for s, lang in enumerate(langs):
        np.subtract(states[lang][te], states[lang][n + te], out=test[s])
    padded = np.ascontiguousarray(test.transpose(2, 0, 1, 3)).reshape(L, S * T, D)
    sums = np.stack([diff_sums[lang] for lang in langs])
    mean_d = ((sums - test.sum(1, dtype=np.float64)) / len(tr)).astype(np.float32)
    mask = np.ones((S, T), dtype=bool)
    return _finish(concept, langs, mean_d, mean_d, padded, mask, [te_keys] * S, seed, baseline_directions)


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
        src, tgt, lay = (a.ravel() for a in np.meshgrid(np.arange(S), np.arange(S), np.arange(L), indexing="ij"))
        cols["concept"].append(np.full(src.size, ci))
        cols["source"].append(lang_codes[src])
        cols["target"].append(lang_codes[tgt])
        cols["layer"].append(lay + 1)
        cols["accuracy"].append(r.accuracy.ravel())
        cols["n_test"].append(r.n_test[tgt])
        cols["cosine"].append(r.cosine.ravel())
        if r.baseline is not None:
            ls, ll = (a.ravel() for a in np.meshgrid(np.arange(S), np.arange(L), indexing="ij"))
            base["concept"].append(np.full(ls.size, ci))
            base["language"].append(lang_codes[ls])
            base["layer"].append(ll + 1)
            base["accuracy"].append(r.baseline.mean(1).ravel())
            base["accuracy_std"].append(r.baseline.std(1).ravel())
            base["n_directions"].append(np.full(ls.size, r.baseline.shape[1]))
            base["n_test"].append(r.n_test[ls])

    def frame(parts: dict, names: list[str]) -> pd.DataFrame:
        out = {}
        for k in names:
            v = np.concatenate(parts[k])
            if k == "concept":
                v = pd.Categorical.from_codes(v, categories=concepts)
            elif k in ("source", "target", "language"):
                v = pd.Categorical.from_codes(v, categories=languages)
            out[k] = v
        return pd.DataFrame(out)

    keys = ["concept", "source", "target", "layer"]
    return {
        "transfer": frame(cols, keys + ["accuracy", "n_test"]),
        "consistency": frame(cols, keys + ["cosine"]),
        "baseline": frame(base, list(base)) if base["concept"] else None,
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
