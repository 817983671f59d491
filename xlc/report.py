"""The prose of the book's pages, written from the numbers: what a page covers (its header) and what its
numbers say, with how sure we can be of them. Every sentence takes its figures from the runs' files; nothing
here names a particular model (a model's caveats come from its run record)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from xlc import data as D
from xlc import metrics
from xlc.runfolder import Run
from xlc.stats import LEVEL


def _langs(langs) -> str:
    return ", ".join(langs)


def protocol(run: Run) -> str:
    """One sentence on how a run's numbers were made."""
    r = run.record
    if r.protocol == "cv":
        how = (f"{r.folds}-fold cross-validation over the aligned items (every item tested once, by vectors fitted "
               "without it); the layer of each number chosen inside each training fold by an inner "
               "cross-validation, never on the items it is tested on")
    else:
        how = (f"the paper's single split ({round(100 * (r.test_size or 0))}% of the items tested"
               + (f", split read from `{r.split_from}`" if r.split_from else "") + "); the layer of each number is "
               "the best one on the test items themselves (the paper's oracle, optimistic by construction)")
    boot = (f"{LEVEL:.0%} intervals from {r.bootstrap:,} bootstrap replicates of the items "
            + ("(vectors refitted, each source of noise counted once; the chosen layers held fixed)"
               if r.bootstrap_refit else "(vectors held fixed: narrower than they should be)")) if r.bootstrap \
        else "no intervals (--bootstrap 0)"
    return f"{how}; {boot}; concept vectors: {r.method}, token: {r.token}, template `{r.template}`"


def headline_layer(runs: list[Run]) -> str:
    """What "the headline layer" of these runs is, for a figure's title."""
    choices = {r.record.layer_choice for r in runs}
    if choices == {"inner"}:
        return "the layer chosen without peeking"
    if choices == {"oracle"}:
        return "the paper's best layer (an oracle, chosen on the test items)"
    return "each run's headline layer (chosen without peeking; the paper's oracle under its split)"


def control_text(run: Run) -> str:
    """A sentence for an untrained control run (empty for a trained model)."""
    if not run.record.untrained:
        return ""
    return (f" {run.name} is an untrained control (the same architecture with random weights): whatever it shows, "
            "the architecture and the text give without training, and a trained model showing no more is not evidence "
            "of what training taught.")


def header(runs: list[Run], concepts: list[str] | None = None, languages: list[str] | None = None) -> str:
    """The paragraph every page starts with: the runs, how their numbers were made, and the scope."""
    lines = []
    for run in runs:
        r = run.record
        size = f"{r.num_parameters / 1e6:.0f}M parameters, " if r.num_parameters else ""
        cs = concepts or run.concepts
        left = [c for c in run.concepts if c not in cs]
        langs = languages or D.order_languages({l for c in cs for l in run.languages(c)})
        lines.append(f"- **{run.name}**: `{r.model}` ({size}{r.num_layers} layers); {protocol(run)}. "
                     f"{len(cs)} concept(s), {len(langs)} languages ({_langs(langs)})"
                     + (f"; left out: {', '.join(left)}" if left else "") + ".")
    return "Runs on this page:\n\n" + "\n".join(lines)


def _pct(x: float) -> str:
    return f"{x:.0%}" if np.isfinite(x) else "–"


def _has_intervals(lo, hi) -> bool:
    return bool(np.isfinite(np.asarray(lo, dtype=float)).any() and np.isfinite(np.asarray(hi, dtype=float)).any())


NO_INTERVALS = "no intervals (the run was made with --bootstrap 0), so no difference here can be judged"


def recognition_text(summary: pd.DataFrame) -> str:
    """How sure we are of recognition, per run: from :func:`xlc.results.recognition_summary`."""
    out = []
    for run, g in summary.groupby("run", sort=False):
        text = (f"**{run}**: mean recognition over languages {g.accuracy.mean():.2f} (lowest {g.accuracy.min():.2f} in "
                f"{g.loc[g.accuracy.idxmin(), 'language']})")
        if not _has_intervals(g.lo, g.hi):
            out.append(f"{text}; {NO_INTERVALS}.")
            continue
        half = ((g.hi - g.lo) / 2).median()
        above = int((g.lo > g.chance).sum())
        text += (f"; a language's {LEVEL:.0%} interval is ±{half:.2f} wide (median), so a difference between two "
                 f"languages smaller than about {2 * half:.2f} may be noise. In {above} of {len(g)} languages the whole "
                 "interval lies above the chance level of random directions")
        if "beats_surface" in g and g.cells.sum():
            text += (f". Against the text alone: in {int(g.beats_surface.sum())} of {int(g.cells.sum())} (concept, "
                     "language) cells the model's margin over the stronger surface baseline (a length rule or a "
                     f"character n-gram classifier on the same folds, {g.surface.mean():.2f} on average) has a "
                     f"{LEVEL:.0%} interval above 0 (paired: the same bootstrap draws)")
        out.append(text + ".")
    return "\n\n".join(out)


def consistency_text(depth: pd.DataFrame, run: Run) -> str:
    """The shape of consistency across depth, from :func:`xlc.results.consistency_by_depth`."""
    m = depth[depth.concept == "mean"].set_index("layer")
    if not len(m):
        return f"**{run.name}**: no concept has two of these languages."
    peak = m.cosine.idxmax()
    width = (m.cosine_hi - m.cosine_lo).median()
    return (f"**{run.name}**: mean cosine between languages peaks at layer {peak} of {run.num_layers} (relative depth "
            f"{m.relative_depth[peak]:.2f}, {m.cosine[peak]:.2f}) and is lowest at layer {m.cosine.idxmin()} "
            f"({m.cosine.min():.2f})" + (f"; a pair's interval is {width:.2f} wide (median over layers)" if
                                          np.isfinite(width) else f"; {NO_INTERVALS}") + "." + control_text(run))


def table7_text(name: str, t7: pd.DataFrame) -> str:
    """Column 1 against column 3 of Table 7 with the paired interval of their difference, and column 2
    (:func:`xlc.stats.table7`)."""
    d, lo, hi = t7.attrs["col1_minus_col3"]
    sure = np.isfinite(lo) and np.isfinite(hi)
    text = (f"**{name}** ({t7.attrs['n_pairs']} ordered pairs): transfer from the better-recognised language "
            f"{t7.percent['geq_and_transfer']:.0f}% against from the worse one {t7.percent['lt_and_transfer']:.0f}%, "
            f"a difference of {d:+.0f} points")
    if not sure:
        text += f"; {NO_INTERVALS}. "
    else:
        text += (f" ({LEVEL:.0%} interval {lo:+.0f} to {hi:+.0f}, paired over the same replicates): "
                 + ("transfer goes mostly from the better language here. " if lo > 0 else
                    "transfer goes mostly from the worse language here. " if hi < 0 else
                    "the interval includes 0, so these data do not say which dominates. "))
    return text + f"Better recognised but no transfer: {t7.percent['geq_and_no_transfer']:.0f}%."


def table8_text(name: str, t8: pd.DataFrame) -> str:
    """Table 8's average with its interval (:func:`xlc.stats.table8`)."""
    avg = t8.loc["avg"]
    rows = t8.drop(index="avg")
    best, worst = rows.value.idxmax(), rows.value.idxmin()
    n = int(rows.others.max())
    interval_text = (f"{LEVEL:.0%} interval {_pct(avg.lo)} to {_pct(avg.hi)}" if _has_intervals(avg.lo, avg.hi)
                     else NO_INTERVALS)
    return (f"**{name}**: on average {avg.value:.0%} of the other languages transfer to a target ({interval_text}); "
            f"most helped {best} ({rows.effective[best]} of {rows.others[best]}), least {worst} "
            f"({rows.effective[worst]} of {rows.others[worst]}). Each target's share is a count out of {n}, so one "
            f"language moves it by {1 / max(n, 1):.0%}.")


def transfer_text(name: str, deltas: pd.DataFrame, asym: pd.DataFrame) -> str:
    """Effective transfer, and how much of it the intervals support (:func:`xlc.stats.delta_table`,
    :func:`xlc.stats.asymmetry`), beside what chance alone would give."""
    off = deltas[deltas.source != deltas.target]
    eff = off[off.delta >= -metrics.TOLERANCE]
    text = f"**{name}**: {len(eff)} of {len(off)} ordered pairs transfer effectively (Δ ≥ 0) at the chosen layers"
    if not _has_intervals(off.delta_lo, off.delta_hi):
        return f"{text}; {NO_INTERVALS}."
    sure_yes = int((off.delta_lo > 0).sum())
    sure_no = int((off.delta_hi < 0).sum())
    one_way = asym[(asym.lo > 0) | (asym.hi < 0)]
    tail = (1 - LEVEL) / 2
    return (f"{text}. The intervals settle only some of them: Δ is surely above 0 for {sure_yes} pairs and surely "
            f"below for {sure_no}; the other {len(off) - sure_yes - sure_no} are within noise of Δ = 0 (were no pair "
            f"truly different from 0, about {tail * len(off):.0f} would land on each side by chance alone, and the "
            "pairs share languages, so these counts are not independent). The paper's 'unidirectional transfer' "
            f"(Δ(a→b) different from Δ(b→a)) has an interval excluding 0 for {len(one_way)} of {len(asym)} language "
            f"pairs (by chance alone: about {(1 - LEVEL) * len(asym):.0f}).")


def cross_concept_text(name: str, matrix: pd.DataFrame) -> str:
    """Are the concepts distinct directions (:func:`xlc.results.cross_concept_matrix`)? The share of a concept's
    own margin over one half that the other concepts' vectors recover."""
    m = matrix.to_numpy(dtype=float)
    eye = np.eye(len(m), dtype=bool)
    diag = np.diag(m)
    with np.errstate(invalid="ignore", divide="ignore"):
        recovered = (m - 0.5) / (diag[None, :] - 0.5)  # column B: share of B's own margin over chance
    recovered = np.where(eye | ~(diag[None, :] > 0.5), np.nan, recovered)
    i, j = np.unravel_index(np.nanargmax(np.where(eye, np.nan, m)), m.shape)
    return (f"**{name}**: a concept's own vector recognises its pairs at {np.nanmean(diag):.2f} on average; another "
            f"concept's vector recognises them at {np.nanmean(m[~eye]):.2f} (the highest: {matrix.index[i]}'s vector "
            f"on {matrix.columns[j]}'s pairs, {m[i, j]:.2f}). Measured from one half (chance), another concept's "
            f"vector recovers {np.nanmean(recovered):.0%} of a concept's own margin on average (median "
            f"{np.nanmedian(recovered):.0%}): near 100%, the concepts share one good-against-bad direction; near 0%, "
            "they are distinct directions.")
