"""How sure the numbers are: bootstrap replicates that count each source of noise once, and the
intervals and tests computed from the replicates a run keeps.

Why not the plain bootstrap. A cross-validated accuracy varies from one sample of items to another for
two reasons: which items are tested, and which items the vectors were fitted on. Resampling the tested
items' outcomes with the vectors held fixed sees only the first, and its intervals are too narrow when
the hidden states are high-dimensional (the vectors then vary a lot). Refitting the vectors on every
resample sees both, but counts the first twice: the same tested items are scored again and again, and
those near the decision boundary flip with every refitted vector, which adds their sampling noise a
second time; its intervals are too wide. On synthetic states with a planted direction (tests/test_stats.py,
and benchmarks/bench_stats.py) the first covers the true accuracy in about 86% of samples at 384
dimensions, the second in about 99%.

:func:`corrected_replicates` keeps the first part from the resampled outcomes and adds the vectors' part
at the size on which two disjoint halves of the tested items agree: a refitted vector that is better or
worse is so on both halves, while the flips of borderline items are independent between halves. The
covariance of the two halves' accuracies over the replicates measures the vectors' part alone.

Intervals are percentile intervals (95%) of these replicates. ``kind`` picks the layer of each (concept,
source, target): ``"selected"`` (chosen without peeking, the default) or ``"oracle"`` (the paper's best
layer on the test items themselves; its interval is that of the accuracy at that layer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from xlc import metrics
from xlc.errors import XlcError

if TYPE_CHECKING:
    from xlc.runfolder import Run

LEVEL = 0.95  # of every interval: percentile bootstrap


def interval(replicates: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The central 95% of the replicates along ``axis`` (NaN where there are none)."""
    if replicates.shape[axis] == 0 or np.isnan(replicates).all():
        nan = np.full(np.delete(replicates.shape, axis), np.nan)
        return nan, nan
    levels = [(1 - LEVEL) / 2, (1 + LEVEL) / 2]
    # nanquantile is many times slower than quantile: only where some replicate is missing
    q = np.nanquantile(replicates, levels, axis=axis) if np.isnan(replicates).any() else \
        np.quantile(replicates, levels, axis=axis)
    return q[0], q[1]


def delta(accuracy: np.ndarray) -> np.ndarray:
    """Delta(s->t) = Acc(s->t) - Acc(t) for accuracies ``[..., S, T]`` (sources as rows)."""
    return accuracy - np.diagonal(accuracy, axis1=-2, axis2=-1)[..., None, :]

KINDS = {"selected": "accuracy", "oracle": "oracle_accuracy"}


def corrected_replicates(point: np.ndarray, fixed: np.ndarray, refit: np.ndarray, half_a: np.ndarray,
                         half_b: np.ndarray) -> np.ndarray:
    """Bootstrap replicates ``[B, ...]`` of accuracies ``point`` ``[...]`` that count each source of noise once.

    ``fixed``: the data's own per-item outcomes reweighted by each replicate's draw of items; ``refit``: the
    accuracies with the vectors refitted on the draw; ``half_a``, ``half_b``: the refitted accuracies on two
    disjoint halves of the tested items. Returns ``point + (fixed - mean) + lambda * ((refit - fixed) - mean)``
    with ``lambda = sqrt(max(cov(half_a, half_b), 0) / var(refit - fixed))`` per cell: the resampled
    outcomes, plus the refit's extra variation scaled to the vectors' part. Centred on ``point``, and
    kept within [0, 1].
    """
    gap = refit - fixed
    with np.errstate(invalid="ignore", divide="ignore"):
        a = half_a - np.nanmean(half_a, 0)
        b = half_b - np.nanmean(half_b, 0)
        shared = np.nanmean(a * b, 0)  # covariance of the two halves over the replicates
        scale = np.sqrt(np.clip(shared, 0, None) / np.nanvar(gap, 0))
    scale = np.where(np.isfinite(scale), scale, 0.0)
    out = point[None] + (fixed - np.nanmean(fixed, 0)) + scale * (gap - np.nanmean(gap, 0))
    return np.clip(out, 0.0, 1.0).astype(np.float32)  # an accuracy


def headline(r) -> pd.DataFrame:
    """One row per (source, target) of a concept (an :class:`xlc.analysis.ConceptResult`): the headline
    numbers of ``selected.csv`` with their intervals."""
    S, T = r.selected.shape[1:]
    langs = np.array(r.languages)
    s_i, t_i = np.indices((S, T)).reshape(2, -1)
    sel, orc = r.selected, r.oracle
    d = delta(sel)  # per replicate
    out = {"concept": r.concept, "source": langs[s_i], "target": langs[t_i], "accuracy": sel[0].ravel()}
    out["accuracy_lo"], out["accuracy_hi"] = (x.ravel() for x in interval(sel[1:]))
    out["delta"] = d[0].ravel()
    out["delta_lo"], out["delta_hi"] = (x.ravel() for x in interval(d[1:]))
    # share of replicates in which the transfer is not effective (Delta < 0): a share, not a p-value
    out["p_not_effective"] = (d[1:] < -metrics.TOLERANCE).mean(0).ravel() if len(sel) > 1 else np.full(S * T, np.nan)
    chosen = r.chosen
    out["layers"] = [" ".join(str(int(x)) for x in chosen[s, t] if x) for s, t in zip(s_i, t_i)]
    out["oracle_layer"] = r.accuracy[0].argmax(2).ravel() + 1
    out["oracle_accuracy"] = orc[0].ravel()
    out["oracle_lo"], out["oracle_hi"] = (x.ravel() for x in interval(orc[1:]))
    out["n_test"] = r.n_test[t_i]
    out["tied"] = r.tied[t_i]
    if r.surface:
        point = np.stack([r.surface[b][0] for b in r.surface])  # [baselines, S, T]
        names = list(r.surface)
        for b in names:
            out[b] = r.surface[b][0].ravel()
            out[f"{b}_lo"], out[f"{b}_hi"] = (x.ravel() for x in interval(r.surface[b][1:]))
        which = point.argmax(0)  # the stronger baseline of each pair, fixed from the data as they are
        best = np.take_along_axis(np.stack([r.surface[b] for b in names], 1), which[None, None], 1)[:, 0]
        margin = sel - best  # [B1, S, T], paired: the same draws
        out["surface_best"] = np.array(names)[which].ravel()
        out["margin"] = margin[0].ravel()
        out["margin_lo"], out["margin_hi"] = (x.ravel() for x in interval(margin[1:]))
    return pd.DataFrame(out)


def _check(kind: str) -> None:
    if kind not in KINDS:
        raise XlcError(f"kind {kind!r}: use one of {', '.join(KINDS)}")


def point_matrix(run: Run, concepts: list[str], languages: list[str], kind: str = "selected") -> pd.DataFrame:
    """Acc(source -> target), S x T, mean over ``concepts``, at each pair's ``kind`` layer."""
    _check(kind)
    return metrics.concept_mean(run.selected, languages, concepts, KINDS[kind])


def replicate_matrices(run: Run, concepts: list[str], languages: list[str], kind: str = "selected") -> np.ndarray:
    """``[B, S, T]``: the bootstrap replicates of :func:`point_matrix` (NaN where a concept lacks a language)."""
    _check(kind)
    reps = run.replicates
    parts = []
    for c in concepts:
        r = reps[c]
        where = [r["languages"].index(l) if l in r["languages"] else -1 for l in languages]
        a = r[kind][:, np.maximum(where, 0)][:, :, np.maximum(where, 0)].astype(float)
        missing = np.array(where) < 0
        a[:, missing], a[:, :, missing] = np.nan, np.nan
        parts.append(a)
    return np.mean(parts, axis=0) if parts else np.empty((0, len(languages), len(languages)))


def table7(run: Run, concepts: list[str], languages: list[str], kind: str = "selected") -> pd.DataFrame:
    """Table 7 (appendix H.1) with intervals: one row per column of the paper's table (:data:`xlc.metrics.TABLE7`),
    columns ``percent``, ``lo``, ``hi``, ``count``. ``attrs``: ``n_pairs``, the number of ordered pairs, and
    ``col1_minus_col3``, ``(difference, lo, hi)``: column 1 (the better-recognised language transfers) minus
    column 3 (the worse one does), in percentage points, with its paired interval (the same replicates)."""
    point = metrics.table7(point_matrix(run, concepts, languages, kind), languages)
    counts = metrics.table7_counts(replicate_matrices(run, concepts, languages, kind))  # [B, 4]
    share = 100.0 * counts / np.maximum(counts.sum(1, keepdims=True), 1)
    lo, hi = interval(share)
    out = pd.DataFrame({"percent": [point[k] for k in metrics.TABLE7], "lo": lo, "hi": hi,
                        "count": [point["counts"][k] for k in metrics.TABLE7]}, index=list(metrics.TABLE7))
    out.attrs["n_pairs"] = point["n_pairs"]
    i1, i3 = list(metrics.TABLE7).index("geq_and_transfer"), list(metrics.TABLE7).index("lt_and_transfer")
    d_lo, d_hi = interval(share[:, i1] - share[:, i3])
    out.attrs["col1_minus_col3"] = (point["geq_and_transfer"] - point["lt_and_transfer"], float(d_lo), float(d_hi))
    return out


def table8(run: Run, concepts: list[str], subset: list[str], kind: str = "selected") -> pd.DataFrame:
    """Table 8 (appendix H.3) with intervals: per target of ``subset`` (and ``avg``), how many of the other
    languages transfer to it effectively (``effective``) out of how many (``others``), the share (``value``), its
    interval (``lo``, ``hi``) and the paper's printed form (``percent``, truncated). ``avg`` is the mean share
    (its counts are left empty)."""
    counts = metrics.table8(point_matrix(run, concepts, subset, kind), subset)
    hits, n = metrics.table8_counts(replicate_matrices(run, concepts, subset, kind))  # [B, S]
    share = hits / np.maximum(n, 1)
    lo, hi = interval(share)
    avg_lo, avg_hi = interval(share.mean(1))
    shown = metrics.table8_display(counts)
    rows = [{"target": t, "effective": h, "others": k, "value": h / k if k else np.nan, "lo": lo[i], "hi": hi[i],
             "percent": shown[t]} for i, (t, (h, k)) in enumerate(counts.items())]
    mean = float(np.nanmean([r["value"] for r in rows])) if rows else np.nan
    rows.append({"target": "avg", "effective": pd.NA, "others": pd.NA, "value": mean, "lo": avg_lo, "hi": avg_hi,
                 "percent": shown["avg"]})
    out = pd.DataFrame(rows).set_index("target")
    out[["effective", "others"]] = out[["effective", "others"]].astype("Int64")
    return out


def delta_table(run: Run, concepts: list[str], languages: list[str], kind: str = "selected") -> pd.DataFrame:
    """Long table of the concept-mean transfer: source, target, accuracy, delta (Acc(s->t) - Acc(t)) with
    its interval, and ``p_not_effective`` (share of replicates with delta < 0)."""
    acc = point_matrix(run, concepts, languages, kind).to_numpy(dtype=float)
    reps = replicate_matrices(run, concepts, languages, kind)
    d, d_reps = delta(acc), delta(reps)
    lo, hi = interval(d_reps)
    with np.errstate(invalid="ignore"):
        p = (d_reps < -metrics.TOLERANCE).mean(0) if len(reps) else np.full(d.shape, np.nan)
    s_i, t_i = np.indices(d.shape).reshape(2, -1)
    langs = np.array(languages)
    return pd.DataFrame({"source": langs[s_i], "target": langs[t_i], "accuracy": acc.ravel(), "delta": d.ravel(),
                         "delta_lo": lo.ravel(), "delta_hi": hi.ravel(), "p_not_effective": p.ravel()})


def asymmetry(run: Run, concepts: list[str], languages: list[str], kind: str = "selected") -> pd.DataFrame:
    """A paired test of the paper's "unidirectional transfer": for every pair {a, b}, the difference
    Delta(a->b) - Delta(b->a) of the concept-mean transfer, its interval, and a two-sided bootstrap p
    (twice the share of replicates on the other side of zero). One row per unordered pair a < b."""
    acc = point_matrix(run, concepts, languages, kind).to_numpy(dtype=float)
    reps = replicate_matrices(run, concepts, languages, kind)
    d, d_reps = delta(acc), delta(reps)
    rows = []
    for i in range(len(languages)):
        for j in range(i + 1, len(languages)):
            diff = d_reps[:, i, j] - d_reps[:, j, i]
            lo, hi = interval(diff)
            p = min(1.0, 2 * min((diff <= 0).mean(), (diff >= 0).mean())) if len(diff) else float("nan")
            rows.append({"a": languages[i], "b": languages[j], "delta_ab": d[i, j], "delta_ba": d[j, i],
                         "difference": d[i, j] - d[j, i], "lo": float(lo), "hi": float(hi), "p": p})
    return pd.DataFrame(rows)


def fraction_text(effective, others) -> str:
    """``"3/7"``, or empty for a row without counts (Table 8's ``avg``)."""
    return "" if pd.isna(effective) else f"{effective}/{others}"
