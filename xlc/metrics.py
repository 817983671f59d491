"""The paper's aggregations of accuracies: the mean over concepts, Tables 7 and 8.

Matrices are DataFrames with source languages as rows and target languages as columns (S x T);
arrays may carry leading axes (for instance bootstrap replicates ``[B, S, T]``). Accuracies are in [0, 1].

Definitions (Xu et al. 2024, appendix H): Acc(s->t) is the share of t's test pairs whose positive
projects higher than its negative on the concept vector from s; Acc(t) = Acc(t->t). Per model, an
accuracy is a concept's accuracy at its layer (the paper: the best one), averaged over concepts.
Transfer s->t is effective when Acc(s->t) >= Acc(t).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# means over concepts of equal accuracies can differ in the last bit; this is far below 1/N
TOLERANCE = 1e-9
TABLE7 = {"geq_and_transfer": "Acc(A) ≥ Acc(B), transfer A→B", "geq_and_no_transfer": "Acc(A) ≥ Acc(B), no transfer",
          "lt_and_transfer": "Acc(A) < Acc(B), transfer A→B", "lt_and_no_transfer": "Acc(A) < Acc(B), no transfer"}


def concept_mean(frame: pd.DataFrame, languages: list[str] | None = None, concepts: list[str] | None = None,
                 value: str = "accuracy") -> pd.DataFrame:
    """S x T mean over concepts of ``value`` (one row per concept, source, target in ``frame``); a pair
    missing in some concept is left out (NaN)."""
    df = frame if concepts is None else frame[frame.concept.isin(concepts)]
    n = len(concepts) if concepts is not None else df.concept.nunique()
    grouped = df.groupby(["source", "target"])
    complete = grouped.concept.nunique() == n
    matrix = grouped[value].mean()[complete].unstack("target")
    if languages is not None:
        matrix = matrix.reindex(index=languages, columns=languages)
    return matrix


def table7_counts(acc: np.ndarray) -> np.ndarray:
    """Table 7 counts from accuracy arrays ``[..., S, S]`` (rows A = sources, columns B = targets): over
    ordered pairs of distinct languages with a value, ``[..., 4]`` counts in the order of :data:`TABLE7`."""
    acc = np.asarray(acc, dtype=float)
    mono = np.diagonal(acc, axis1=-2, axis2=-1)
    geq = mono[..., :, None] >= mono[..., None, :] - TOLERANCE  # Acc(A) >= Acc(B)
    eff = acc >= mono[..., None, :] - TOLERANCE  # Acc(A->B) >= Acc(B)
    off = ~np.eye(acc.shape[-1], dtype=bool) & ~np.isnan(acc)
    parts = [geq & eff, geq & ~eff, ~geq & eff, ~geq & ~eff]
    return np.stack([(p & off).sum((-2, -1)) for p in parts], -1)


def table7(matrix: pd.DataFrame, languages: list[str] | None = None) -> dict:
    """Appendix H.1, Table 7: over ordered pairs (A, B) of distinct languages, the percentages of
    Acc(A) >= Acc(B) and effective A->B, >= and not, < and effective, < and not.

    Returns percentages (keys as in :data:`TABLE7` and the paper's CSV) plus ``n_pairs`` and ``counts``.
    """
    langs = list(languages or [l for l in matrix.index if l in matrix.columns])
    counts = table7_counts(matrix.reindex(index=langs, columns=langs).to_numpy(dtype=float))
    n = int(counts.sum())
    out = {k: (100.0 * int(v) / n if n else math.nan) for k, v in zip(TABLE7, counts)}
    out.update(n_pairs=n, counts={k: int(v) for k, v in zip(TABLE7, counts)})
    return out


def table8_counts(acc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each target of ``acc`` ``[..., S, S]``: the number of other languages whose transfer to it is
    effective, and the number of other languages with a value: two ``[..., S]`` arrays."""
    acc = np.asarray(acc, dtype=float)
    mono = np.diagonal(acc, axis1=-2, axis2=-1)
    off = ~np.eye(acc.shape[-1], dtype=bool) & ~np.isnan(acc)
    eff = (acc >= mono[..., None, :] - TOLERANCE) & off
    return eff.sum(-2), off.sum(-2)


def table8(matrix: pd.DataFrame, subset: list[str]) -> dict[str, tuple[int, int]]:
    """Appendix H.3, Table 8: for each target in ``subset``, ``(effective, others)``: how many of the other
    languages of the subset transfer to it effectively, out of how many with a value. Kept as counts, never
    reduced (3/6 is not 1/2: it says how coarse the share is)."""
    hits, n = table8_counts(matrix.reindex(index=subset, columns=subset).to_numpy(dtype=float))
    return {t: (int(h), int(k)) for t, h, k in zip(subset, hits, n)}


def truncate_percent(hits: int, n: int) -> int:
    """``hits / n`` in percent truncated toward zero, as the paper prints Table 8 (6/7 -> 85, 1/7 -> 14); 0 if n is 0."""
    return 100 * hits // n if n else 0


def table8_display(counts: dict[str, tuple[int, int]]) -> dict[str, int]:
    """Table 8 as the paper prints it: truncated percentages, ``avg`` the truncated mean of those."""
    row = {k: truncate_percent(*v) for k, v in counts.items()}
    row["avg"] = sum(row.values()) // len(row) if row else 0
    return row
