"""Uncertainty: bootstrap confidence intervals from the per-item outcomes a run keeps.

With a few dozen test pairs per language, one accuracy step is large (1/14 with the bundled data);
these intervals say which differences are larger than the resampling noise. Items are resampled
within each target language, and the same resample serves Acc(s->t) and Acc(t), so Delta's interval
is paired.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from xlc.errors import XlcError


def load_outcomes(run: str | Path) -> dict[str, dict]:
    """``{concept: {"languages": [...], "correct": [S, T, N, L] bool, "n_test": [T]}}`` from ``outcomes.npz``."""
    path = Path(run) / "outcomes.npz"
    if not path.is_file():
        raise XlcError(f"{path}: not found; point at a run folder written by 'xlc run'")
    with np.load(path, allow_pickle=False) as z:
        out = {}
        for key in z.files:
            if key.endswith("/correct"):
                concept = key[: -len("/correct")]
                langs = [str(l) for l in z[f"{concept}/languages"]]
                n_test = np.array([len(z[f"{concept}/test_keys/{l}"]) for l in langs])
                out[concept] = {"languages": langs, "correct": z[key].astype(bool), "n_test": n_test}
    return out


def bootstrap_transfer(correct: np.ndarray, n_test: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Bootstrap replicates of Acc(s->t) per layer: ``[B, S, T, L]``.

    ``correct``: ``[S, T, N, L]`` outcomes (padding beyond ``n_test[t]`` ignored). For each replicate
    and target, ``n_test[t]`` items are drawn with replacement; every source sees the same draw.
    """
    S, T, N, L = correct.shape
    rng = np.random.default_rng(seed)
    reps = np.empty((n_boot, S, T, L))
    for t in range(T):  # per target: a [B, n] index draw, then one gather for every source and layer
        n = int(n_test[t])
        idx = rng.integers(0, n, size=(n_boot, n))
        reps[:, :, t] = correct[:, t, :n][:, idx].mean(2).transpose(1, 0, 2)
    return reps


def transfer_intervals(run: str | Path, n_boot: int = 1000, level: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Best-layer Acc(s->t), Acc(t) and Delta with bootstrap intervals, per concept and language pair.

    Columns: concept, source, target, layer, accuracy, accuracy_lo, accuracy_hi, delta, delta_lo,
    delta_hi, p_delta_negative (share of replicates with Delta < 0). The best layer is chosen on the
    full test set, as in the paper, and held fixed in the replicates.
    """
    alpha = (1 - level) / 2
    rows = []
    for concept, o in load_outcomes(run).items():
        c, n = o["correct"], o["n_test"]
        full = c.sum(2) / n[None, :, None]  # [S, T, L]
        reps = bootstrap_transfer(c, n, n_boot, seed)
        best = full.argmax(2)  # [S, T], lowest layer on ties
        S, T = best.shape
        si, ti = np.meshgrid(np.arange(S), np.arange(T), indexing="ij")
        acc_rep = reps[:, si, ti, best]  # [B, S, T]
        diag = best[np.arange(T), np.arange(T)]
        mono_rep = reps[:, np.arange(T), np.arange(T), diag]  # [B, T]
        delta_rep = acc_rep - mono_rep[:, None, :]
        acc = full[si, ti, best]
        delta = acc - acc[np.arange(T), np.arange(T)][None, :]
        q = lambda a, p: np.quantile(a, p, axis=0)
        for s in range(S):
            for t in range(T):
                rows.append((concept, o["languages"][s], o["languages"][t], int(best[s, t]) + 1, acc[s, t],
                             q(acc_rep[:, s, t], alpha), q(acc_rep[:, s, t], 1 - alpha), delta[s, t],
                             q(delta_rep[:, s, t], alpha), q(delta_rep[:, s, t], 1 - alpha),
                             float((delta_rep[:, s, t] < 0).mean())))
    return pd.DataFrame(rows, columns=["concept", "source", "target", "layer", "accuracy", "accuracy_lo",
                                       "accuracy_hi", "delta", "delta_lo", "delta_hi", "p_delta_negative"])
