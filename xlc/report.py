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
        how = (f"the paper's single split ({round(100 * (r.test_size or 0))}% of the items tested); the layer of "
               "each number is the best one on the test items themselves (the paper's oracle)")
    boot = (f"{LEVEL:.0%} intervals from {r.bootstrap:,} bootstrap replicates of the items "
            + ("(vectors refitted, each source of noise counted once)" if r.bootstrap_refit else
               "(vectors held fixed: narrower than they should be)")) if r.bootstrap else "no intervals (--bootstrap 0)"
    return f"{how}; {boot}; concept vectors: {r.method}, token: {r.token}, template `{r.template}`"


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


def recognition_text(summary: pd.DataFrame) -> str:
    """How sure we are of recognition, per run: from :func:`xlc.results.recognition_summary`."""
    out = []
    for run, g in summary.groupby("run", sort=False):
        half = ((g.hi - g.lo) / 2).median()
        above = int((g.lo > g.chance).sum())
        surface = g[["length", "ngram"]].max(axis=1) if {"length", "ngram"} <= set(g) else None
        beats = int((g.lo > surface).sum()) if surface is not None else 0
        out.append(
            f"**{run}**: mean recognition over languages {g.accuracy.mean():.2f} (lowest {g.accuracy.min():.2f} in "
            f"{g.loc[g.accuracy.idxmin(), 'language']}); a language's {LEVEL:.0%} interval is ±{half:.2f} wide "
            f"(median), so differences between languages smaller than about {2 * half:.2f} are not evidence. "
            f"In {above} of {len(g)} languages the whole interval lies above the chance level of random directions"
            + (f", and in {beats} of {len(g)} above the better of the two surface baselines (a length rule and a "
               f"character n-gram classifier on the text alone, {surface.mean():.2f} on average)" if surface is not None
               else "") + ".")
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
                                          np.isfinite(width) else "") + ".")


def table7_text(name: str, t7: pd.DataFrame) -> str:
    """Column 1 against 3 and against 2 of Table 7, with intervals (:func:`xlc.stats.table7`)."""
    c = t7.percent
    iv = {k: f"{t7.percent[k]:.0f}% [{t7.lo[k]:.0f}, {t7.hi[k]:.0f}]" for k in t7.index}
    sure13 = t7.lo["geq_and_transfer"] > t7.hi["lt_and_transfer"]
    return (f"**{name}** ({t7.attrs['n_pairs']} ordered pairs): transfer from the better-recognised language "
            f"{iv['geq_and_transfer']} against from the worse one {iv['lt_and_transfer']}; "
            + ("the intervals do not overlap, so transfer goes mostly from the better language here. " if sure13 else
               ("column 1 is larger, but the intervals overlap. " if c["geq_and_transfer"] > c["lt_and_transfer"]
                else "column 1 is not larger here. "))
            + f"Better but no transfer: {iv['geq_and_no_transfer']}.")


def table8_text(name: str, t8: pd.DataFrame) -> str:
    """Table 8's average with its interval (:func:`xlc.stats.table8`)."""
    avg = t8.loc["avg"]
    rows = t8.drop(index="avg")
    best, worst = rows.value.idxmax(), rows.value.idxmin()
    return (f"**{name}**: on average {avg.value:.0%} of the other languages transfer to a target "
            f"({LEVEL:.0%} interval {_pct(avg.lo)} to {_pct(avg.hi)}); most helped {best} "
            f"({rows.fraction[best].numerator}/{rows.fraction[best].denominator}), least {worst} "
            f"({rows.fraction[worst].numerator}/{rows.fraction[worst].denominator}). Each target's share is a count "
            f"out of {rows.fraction.iloc[0].denominator}, so one language moves it by "
            f"{1 / max(rows.fraction.iloc[0].denominator, 1):.0%}.")


def transfer_text(name: str, deltas: pd.DataFrame, asym: pd.DataFrame) -> str:
    """Effective transfer, and how much of it the intervals support (:func:`xlc.stats.delta_table`,
    :func:`xlc.stats.asymmetry`)."""
    off = deltas[deltas.source != deltas.target]
    eff = off[off.delta >= -metrics.TOLERANCE]
    sure_yes = int((off.delta_lo > 0).sum())
    sure_no = int((off.delta_hi < 0).sum())
    one_way = asym[(asym.lo > 0) | (asym.hi < 0)]
    return (f"**{name}**: {len(eff)} of {len(off)} ordered pairs transfer effectively (Δ ≥ 0) at the chosen layers. "
            f"The intervals settle only some of them: Δ is surely above 0 for {sure_yes} pairs and surely below for "
            f"{sure_no}; the other {len(off) - sure_yes - sure_no} are within noise of Δ = 0. "
            f"The paper's 'unidirectional transfer' (Δ(a→b) different from Δ(b→a)) holds with the interval excluding "
            f"0 for {len(one_way)} of {len(asym)} language pairs.")


def cross_concept_text(name: str, matrix: pd.DataFrame) -> str:
    """Are the concepts distinct directions (:func:`xlc.results.cross_concept_matrix`)?"""
    m = matrix.to_numpy(dtype=float)
    off = m[~np.eye(len(m), dtype=bool)]
    diag = np.diag(m)
    i, j = np.unravel_index(np.nanargmax(np.where(np.eye(len(m), dtype=bool), np.nan, m)), m.shape)
    return (f"**{name}**: a concept's own vector recognises its pairs at {np.nanmean(diag):.2f} on average; another "
            f"concept's vector recognises them at {np.nanmean(off):.2f} (the highest: {matrix.index[i]}'s vector on "
            f"{matrix.columns[j]}'s pairs, {m[i, j]:.2f}). "
            + ("Well above one half off the diagonal means the concepts share one good-against-bad direction more "
               "than they are seven distinct ones." if np.nanmean(off) > 0.6 else
               "Off-diagonal values near one half mean the concepts are largely distinct directions."))
