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
                    method: str = "mean_diff", seed: int = 0, baseline_directions: int = 16) -> ConceptResult:
    """``states[lang]``: ``[2N_lang, L, D]``, the positives then the negatives in ``pairsets[lang]`` order."""
    with _one_blas_thread():
        return _analyse(concept, pairsets, states, split, method, seed, baseline_directions)


def _analyse(concept, pairsets, states, split, method, seed, baseline_directions) -> ConceptResult:
    langs = list(pairsets)
    picks = []
    for lang in langs:
        ps = pairsets[lang]
        _, tr = ps.select(split.train)
        te_keys, te = ps.select(split.test)
        if not tr or not te:
            raise XlcError(f"{ps.path}: no {'training' if not tr else 'test'} pairs under the split; "
                           "add items or check --split")
        picks.append((np.array(tr), np.array(te), te_keys))
    L, D = states[langs[0]].shape[1:]
    S, N = len(langs), max(len(te) for _, te, _ in picks)
    padded = np.zeros((S, N, L, D), dtype=np.float32)
    mask = np.zeros((S, N), dtype=bool)
    mean_d, vec = np.empty((S, L, D), dtype=np.float32), np.empty((S, L, D), dtype=np.float32)
    for s, lang in enumerate(langs):
        st, (tr, te, _) = states[lang], picks[s]
        n = len(pairsets[lang])
        # mean(pos_train) - mean(neg_train) as one matrix-vector product: one read of the states
        weights = np.zeros(2 * n, dtype=np.float32)
        weights[tr], weights[n + tr] = 1.0 / len(tr), -1.0 / len(tr)
        mean_d[s] = (weights @ st.reshape(2 * n, L * D)).reshape(L, D)
        np.subtract(st[te], st[n + te], out=padded[s, :len(te)])
        mask[s, :len(te)] = True
        if method == "mean_diff":
            vec[s] = mean_d[s]  # the paper's concept vector; positive on its training pairs by construction
        else:
            vec[s] = vectors.concept_vectors(st[tr], st[n + tr], method, seed, f"{concept}/{lang}")
    accuracy, correct = metrics.transfer(vec, padded, mask)
    result = ConceptResult(concept, langs, vec, accuracy, correct, metrics.consistency(vec), mask.sum(1),
                           [keys for _, _, keys in picks])
    if baseline_directions:
        # chance: K seeded random directions per language, sign-calibrated on its training pairs like the rest
        K = baseline_directions
        result.baseline = np.empty((S, K, L))
        for s, lang in enumerate(langs):
            R = vectors.random_vectors(mean_d[s], range(seed, seed + K), f"{concept}/{lang}")
            result.baseline[s] = metrics.transfer(R, padded[s:s + 1], mask[s:s + 1])[0][:, 0]
    return result


def tables(results: list[ConceptResult]) -> dict[str, pd.DataFrame | None]:
    """The long tables of a run folder from any number of concept results (one DataFrame each).

    ``transfer``: concept, source, target, layer (1..L), accuracy, n_test; ``consistency``: concept,
    source, target, layer, cosine; ``baseline``: concept, language, layer, accuracy, accuracy_std,
    n_directions, n_test (None when no baseline was computed).
    """
    parts = {"concept": [], "source": [], "target": [], "layer": [], "accuracy": [], "n_test": [], "cosine": []}
    base = {"concept": [], "language": [], "layer": [], "accuracy": [], "accuracy_std": [], "n_directions": [],
            "n_test": []}
    for r in results:
        S, _, L = r.accuracy.shape
        names = np.array(r.languages)
        src, tgt, lay = (a.ravel() for a in np.meshgrid(np.arange(S), np.arange(S), np.arange(L), indexing="ij"))
        parts["concept"].append(np.full(src.size, r.concept, dtype=object))
        parts["source"].append(names[src])
        parts["target"].append(names[tgt])
        parts["layer"].append(lay + 1)
        parts["accuracy"].append(r.accuracy.ravel())
        parts["n_test"].append(r.n_test[tgt])
        parts["cosine"].append(r.cosine.ravel())
        if r.baseline is not None:
            ls, ll = (a.ravel() for a in np.meshgrid(np.arange(S), np.arange(L), indexing="ij"))
            base["concept"].append(np.full(ls.size, r.concept, dtype=object))
            base["language"].append(names[ls])
            base["layer"].append(ll + 1)
            base["accuracy"].append(r.baseline.mean(1).ravel())
            base["accuracy_std"].append(r.baseline.std(1).ravel())
            base["n_directions"].append(np.full(ls.size, r.baseline.shape[1]))
            base["n_test"].append(r.n_test[ls])
    cat = {k: np.concatenate(v) for k, v in parts.items()}
    keys = ["concept", "source", "target", "layer"]
    return {
        "transfer": pd.DataFrame({k: cat[k] for k in keys + ["accuracy", "n_test"]}),
        "consistency": pd.DataFrame({k: cat[k] for k in keys + ["cosine"]}),
        "baseline": pd.DataFrame({k: np.concatenate(v) for k, v in base.items()}) if base["concept"] else None,
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
