"""Recognition, transfer and consistency, and the paper's aggregations (Tables 7 and 8).

All arrays have named axes in their docstrings: S source languages, T target languages, N test
pairs, L layers, D hidden size. Accuracies are in [0, 1], cosines in [-1, 1]. Nothing loops in
Python over pairs, layers or language pairs.

Definitions (Xu et al. 2024, appendix H): Acc(s->t) is the share of t's test pairs whose positive
projects higher than its negative on the concept vector from s; Acc(t) = Acc(t->t). Per model, an
accuracy is the best layer's, averaged over concepts. Transfer s->t is effective when
Acc(s->t) >= Acc(t).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd

# means over concepts of equal accuracies can differ in the last bit; this is far below 1/N
TOLERANCE = 1e-9


def pad_pairs(diffs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Stack per-target test differences ``[n_t, L, D]`` into ``[T, N, L, D]`` with a ``[T, N]`` mask."""
    n_max = max(len(d) for d in diffs)
    shape = (len(diffs), n_max) + diffs[0].shape[1:]
    out = np.zeros(shape, dtype=np.float32)
    mask = np.zeros(shape[:2], dtype=bool)
    for t, d in enumerate(diffs):
        out[t, :len(d)] = d
        mask[t, :len(d)] = True
    return out, mask


def transfer(vectors: np.ndarray, test_diffs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Transfer accuracy for every (source, target, layer), and every item's outcome.

    ``vectors``: ``[S, L, D]``; ``test_diffs``: ``[T, N, L, D]`` (positive - negative states of each
    target's test pairs, padded); ``mask``: ``[T, N]`` (real pairs). A pair counts as recognised when
    its positive projects strictly higher (a tie is not a success).

    Returns ``accuracy [S, T, L]`` and ``correct [S, T, N, L]`` (bool, False where padded).
    """
    T, N, L, D = test_diffs.shape
    return transfer_by_layer(vectors, test_diffs.reshape(T * N, L, D).transpose(1, 0, 2), mask)


def transfer_by_layer(vectors: np.ndarray, test_diffs: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:func:`transfer` with the test differences already laid out by layer: ``test_diffs`` is
    ``[L, T*N, D]`` (target-major within a layer; a strided view is fine: BLAS reads it in place)."""
    L, TN, D = test_diffs.shape
    T, N = mask.shape
    vl = np.ascontiguousarray(vectors.transpose(1, 0, 2))  # [L, S, D]
    scores = np.matmul(test_diffs, vl.transpose(0, 2, 1))  # [L, T*N, S]
    hit = scores.reshape(L, T, N, len(vectors)) > 0
    if not mask.all():
        hit &= mask[None, :, :, None]
    n = mask.sum(1)
    # hits per (layer, target, source) as a vector-matrix product over the pairs: exact small integers
    # in float32, and several times faster than count_nonzero over a middle axis
    hits = np.matmul(np.ones(N, dtype=np.float32), hit.astype(np.float32))  # [L, T, S]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = hits.transpose(2, 1, 0) / n[None, :, None]
    return accuracy, hit.transpose(3, 1, 2, 0)


def consistency(vectors: np.ndarray) -> np.ndarray:
    """Cosine between the sign-calibrated concept vectors of every two languages, per layer.

    ``vectors``: ``[S, L, D]``. Returns ``[S, S, L]`` (0 where a vector is zero).
    """
    vl = np.ascontiguousarray(vectors.transpose(1, 0, 2))  # [L, S, D]
    gram = np.matmul(vl, vl.transpose(0, 2, 1))  # [L, S, S]
    norms = np.sqrt(np.diagonal(gram, axis1=1, axis2=2))  # [L, S]
    norms = np.where(norms == 0, 1, norms)
    cos = gram / norms[:, :, None] / norms[:, None, :]
    return np.clip(cos, -1, 1, out=cos).transpose(1, 2, 0)


# ---- the paper's aggregations, on the long tables of a run ----

def best_layer(transfer_df: pd.DataFrame) -> pd.DataFrame:
    """Best layer per (concept, source, target): columns concept, source, target, layer, accuracy, n_test.

    Ties go to the lowest layer.
    """
    df = transfer_df.sort_values(["concept", "source", "target", "accuracy", "layer"],
                                 ascending=[True, True, True, False, True])
    return df.drop_duplicates(["concept", "source", "target"]).reset_index(drop=True)


def accuracy_matrix(transfer_df: pd.DataFrame, languages: list[str] | None = None,
                    concepts: list[str] | None = None) -> pd.DataFrame:
    """Acc(source->target): best layer per concept, then the mean over concepts. Sources are rows."""
    df = transfer_df if concepts is None else transfer_df[transfer_df.concept.isin(concepts)]
    best = best_layer(df)
    if concepts is None:
        concepts = sorted(best.concept.unique())
    complete = best.groupby(["source", "target"]).concept.nunique() == len(concepts)
    matrix = best.groupby(["source", "target"]).accuracy.mean()[complete].unstack("target")
    if languages is not None:
        matrix = matrix.reindex(index=languages, columns=languages)
    return matrix


def monolingual(matrix: pd.DataFrame) -> pd.Series:
    """Acc(l) = Acc(l->l), from an accuracy matrix."""
    langs = [l for l in matrix.index if l in matrix.columns]
    return pd.Series({l: matrix.loc[l, l] for l in langs})


def delta(matrix: pd.DataFrame) -> pd.DataFrame:
    """Delta(s->t) = Acc(s->t) - Acc(t); transfer is effective where Delta >= 0."""
    return matrix - monolingual(matrix).reindex(matrix.columns).to_numpy()[None, :]


def effective(matrix: pd.DataFrame) -> pd.DataFrame:
    return delta(matrix) >= -TOLERANCE


def table7(matrix: pd.DataFrame, languages: list[str] | None = None) -> dict:
    """Appendix H.1, Table 7: over ordered pairs (A, B) of distinct languages, the percentages of
    Acc(A) >= Acc(B) and effective A->B, >= and not, < and effective, < and not.

    Returns percentages (keys as in the paper's CSV) plus ``n_pairs`` and the raw ``counts``.
    """
    langs = list(languages or [l for l in matrix.index if l in matrix.columns])
    m = matrix.reindex(index=langs, columns=langs).to_numpy(dtype=float)
    mono = np.diag(m)
    geq = mono[:, None] >= mono[None, :] - TOLERANCE  # rows A, columns B
    eff = m >= mono[None, :] - TOLERANCE               # A->B effective: Acc(A->B) >= Acc(B)
    off = ~np.eye(len(langs), dtype=bool) & ~np.isnan(m)
    counts = {
        "geq_and_transfer": int((geq & eff & off).sum()),
        "geq_and_no_transfer": int((geq & ~eff & off).sum()),
        "lt_and_transfer": int((~geq & eff & off).sum()),
        "lt_and_no_transfer": int((~geq & ~eff & off).sum()),
    }
    n = int(off.sum())
    out = {k: (100.0 * v / n if n else math.nan) for k, v in counts.items()}
    out.update(n_pairs=n, counts=counts)
    return out


def table8(matrix: pd.DataFrame, subset: list[str]) -> dict[str, Fraction]:
    """Appendix H.3, Table 8: for each target in ``subset``, the exact fraction of the other
    languages of the subset whose transfer to it is effective."""
    eff = effective(matrix.reindex(index=subset, columns=subset))
    out = {}
    for target in subset:
        sources = [s for s in subset if s != target and not np.isnan(matrix.loc[s, target])]
        out[target] = Fraction(int(sum(bool(eff.loc[s, target]) for s in sources)), len(sources)) \
            if sources else Fraction(0)
    return out


def truncate_percent(value: Fraction | float) -> int:
    """Percent truncated toward zero, as the paper prints Table 8 (6/7 -> 85, 1/7 -> 14)."""
    return int(math.floor(Fraction(value) * 100)) if isinstance(value, Fraction) else int(math.floor(value * 100 + 1e-9))


def table8_display(fractions: dict[str, Fraction]) -> dict[str, int]:
    """Table 8 as the paper prints it: truncated percentages, ``avg`` the truncated mean of those."""
    row = {k: truncate_percent(v) for k, v in fractions.items()}
    row["avg"] = int(math.floor(Fraction(sum(row.values()), len(row)))) if row else 0
    return row
