"""Views of run folders for the book: the paper's matrices and tables, recognition, consistency, transfer.

Runs are read with :mod:`xlc.runfolder`. Matrices are DataFrames with source languages as rows and target
languages as columns (S x T); long tables have one row per measurement. Accuracies are in [0, 1], cosines
in [-1, 1], layers count from 1 to L, and relative depth is ``layer / L``.

Which layer. ``"selected"``: the layer chosen without peeking, inside each training fold (the headline);
``"oracle"``: the paper's best layer, the maximum over layers of the test accuracy itself (optimistic by
construction); an int or ``"last"``: that layer for every concept. Cosines have no notion of "better":
a concept's cosines are shown at the layer where its recognition, averaged over its languages, is highest
(:func:`concept_best_layers`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from xlc import data as D
from xlc import metrics, stats
from xlc.errors import XlcError
from xlc.runfolder import Run
from xlc.stats import interval

LAYERS = ("selected", "oracle")


# ---- which concepts and languages a view covers ----

def scope(run: Run, concepts: list[str] | None = None, languages: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The concepts and languages of a concept-mean view: ``(concepts, languages)``.

    Given ``languages``, those of them that every chosen concept has, in that order (a page that sets runs
    side by side asks for the same languages of runs that may lack some; its header says which remain);
    XlcError when none remains. Otherwise the languages are those common to the concepts; when ``concepts``
    is None and fewer than two languages are common, the concepts with the fewest languages are dropped one
    by one until two are (so that a data set still being translated gives a cross-lingual view of the
    concepts that are).
    """
    chosen = [c for c in (concepts or run.concepts)]
    for c in chosen:
        if c not in run.concepts:
            raise XlcError(f"concept {c!r} is not in {run.path}; it has {', '.join(run.concepts)}")
    if languages:
        kept = [l for l in languages if all(l in run.languages(c) for c in chosen)]
        if not kept:
            raise XlcError(f"{run.path}: no concept of {', '.join(chosen)} has all of {', '.join(languages)}; "
                           "choose other languages")
        return chosen, kept

    def common(cs):
        return D.order_languages(set.intersection(*(set(run.languages(c)) for c in cs)))

    while concepts is None and len(chosen) > 1 and len(common(chosen)) < 2:
        chosen.remove(min(chosen, key=lambda c: (len(run.languages(c)), -chosen.index(c))))
    return chosen, common(chosen)


def language_order(run: Run, languages: list[str], order: str | list[str] = "family") -> list[str]:
    """``languages`` sorted for display.

    ``"family"``: by the model family's pre-training share (largest first; languages without a share
    after, in the study's order), or the study's order when the run has no family; ``"study"``: en zh
    fr ... ny; a list: that order (languages not in it appended).
    """
    study = D.order_languages(languages)
    if isinstance(order, (list, tuple)):
        return [l for l in order if l in languages] + [l for l in study if l not in order]
    if order == "study" or run.family is None:
        return study
    if order != "family":
        raise XlcError(f"language order {order!r}: use 'family', 'study' or a list of languages")
    share = run.family["pretraining_share_percent"]
    return sorted(study, key=lambda l: (-share.get(l, -1.0), study.index(l)))


def unseen_languages(run: Run, languages: list[str]) -> list[str]:
    """Languages the run's model family never saw in pre-training (no share, or excluded); [] without a family."""
    fam = run.family
    if fam is None:
        return []
    return [l for l in languages if l not in fam["pretraining_share_percent"] or l in fam["excluded_languages"]]


def _layer(run: Run, layer: int | str) -> int:
    n = run.num_layers if layer == "last" else int(layer)
    if not 1 <= n <= run.num_layers:
        raise XlcError(f"layer {layer}: {run.path} has layers 1..{run.num_layers}")
    return n


# ---- recognition (source == target) ----

def recognition(run: Run, concepts: list[str] | None = None) -> pd.DataFrame:
    """Long table, one row per (concept, language, layer): accuracy with its interval, AUC, n_test."""
    t = run.transfer
    rec = t[t.source == t.target].rename(columns={"source": "language"}).drop(columns="target")
    if concepts is not None:
        rec = rec[rec.concept.isin(concepts)]
    return rec.reset_index(drop=True)


def concept_best_layers(run: Run) -> dict[str, int]:
    """``{concept: layer}``: the layer of highest recognition accuracy averaged over the concept's
    languages (ties to the lower layer)."""
    mean = recognition(run).groupby(["concept", "layer"]).accuracy.mean().reset_index()
    mean = mean.sort_values(["concept", "accuracy", "layer"], ascending=[True, False, True])
    return {c: int(l) for c, l in mean.drop_duplicates("concept")[["concept", "layer"]].itertuples(index=False)}


def recognition_cells(run: Run, concepts: list[str] | None = None) -> pd.DataFrame:
    """Per (concept, language): accuracy at the layer chosen without peeking with its interval, the paper's
    oracle accuracy, AUC at the oracle layer, the chance level there, and the surface baselines."""
    sel = run.selected[run.selected.source == run.selected.target].rename(columns={"target": "language"})
    if concepts is not None:
        sel = sel[sel.concept.isin(concepts)]
    rec = recognition(run)[["concept", "language", "layer", "auc"]]
    out = sel.merge(rec.rename(columns={"layer": "oracle_layer"}), on=["concept", "language", "oracle_layer"], how="left")
    chance = run.baseline.rename(columns={"layer": "oracle_layer", "accuracy": "chance", "accuracy_std": "chance_std"})
    out = out.merge(chance[["concept", "language", "oracle_layer", "chance", "chance_std"]],
                    on=["concept", "language", "oracle_layer"], how="left")
    return out.drop(columns=["source"]).reset_index(drop=True)


def recognition_table(run: Run, concepts: list[str] | None = None, layer: int | str = "selected",
                      value: str = "accuracy") -> pd.DataFrame:
    """Recognition, languages x concepts (NaN where a concept lacks a language), at the selected or oracle
    layer or at one layer, plus a ``mean`` column over the concepts each language has. ``value``:
    ``accuracy`` (or ``accuracy_lo`` / ``accuracy_hi``, or ``auc`` at a fixed layer)."""
    if layer in LAYERS:
        cells = recognition_cells(run, concepts)
        col = {"selected": value, "oracle": {"accuracy": "oracle_accuracy", "accuracy_lo": "oracle_lo",
                                            "accuracy_hi": "oracle_hi"}.get(value, value)}[layer]
        table = cells.pivot(index="language", columns="concept", values=col)
    else:
        rec = recognition(run, concepts)
        table = rec[rec.layer == _layer(run, layer)].pivot(index="language", columns="concept", values=value)
    table = table.reindex(index=D.order_languages(table.index), columns=[c for c in run.concepts if c in table.columns])
    table["mean"] = table.mean(axis=1)
    return table


def recognition_summary(runs: list[Run], concepts: list[str] | None = None) -> pd.DataFrame:
    """One row per (run, language): recognition at the selected layer averaged over concepts with its
    interval (from the run's replicates), the oracle mean, the chance level, AUC, and the surface baselines:
    each one's mean, ``surface`` the mean of the stronger one per cell, ``cells`` the (concept, language)
    cells and ``beats_surface`` how many of them have the model's paired margin over the stronger baseline
    above 0 with its whole interval."""
    rows = []
    for run in runs:
        cs, langs = scope(run, concepts)
        cells = recognition_cells(run, cs)
        reps = stats.replicate_matrices(run, cs, langs, "selected")
        lo, hi = interval(np.diagonal(reps, axis1=1, axis2=2))
        surface = [b for b in ("length", "ngram") if b in cells]
        if surface:
            cells = cells.assign(surface=cells[surface].max(axis=1), beats_surface=cells.margin_lo > 0)
        mean = cells.groupby("language").mean(numeric_only=True)
        for i, l in enumerate(langs):
            m = mean.loc[l]
            extra = {b: m[b] for b in surface}
            if surface:
                mine = cells[cells.language == l]
                extra |= {"surface": m.surface, "cells": len(mine), "beats_surface": int(mine.beats_surface.sum())}
            rows.append({"run": run.name, "language": l, "accuracy": m.accuracy, "lo": lo[i], "hi": hi[i],
                         "oracle": m.oracle_accuracy, "chance": m.chance, "auc": m.auc, **extra})
    return pd.DataFrame(rows)


def recognition_curves(run: Run, concepts: list[str], languages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Accuracy against layer: ``(curves, chance)``.

    ``curves``: concept, language, layer, accuracy, accuracy_lo, accuracy_hi; concept ``"mean"`` first
    (over ``concepts``, on ``languages``), then each concept on its own languages. ``chance``: concept,
    layer, accuracy, accuracy_std of the random directions, averaged over the same languages.
    """
    rec = recognition(run)
    cols = ["concept", "language", "layer", "accuracy", "accuracy_lo", "accuracy_hi"]
    mean = rec[rec.concept.isin(concepts) & rec.language.isin(languages)]
    mean = mean.groupby(["language", "layer"], sort=False)[cols[3:]].mean().reset_index().assign(concept="mean")
    curves = pd.concat([mean[cols], rec[cols]], ignore_index=True)
    curves["order"] = curves.language.map({l: i for i, l in enumerate(D.order_languages(curves.language))})
    curves = curves.sort_values(["order", "layer"], kind="stable").drop(columns="order")
    curves = pd.concat([curves[curves.concept == "mean"]] + [curves[curves.concept == c] for c in run.concepts])
    b = run.baseline
    per = b.groupby(["concept", "layer"]).agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy_std", "mean"))
    sel = b[b.concept.isin(concepts) & b.language.isin(languages)]
    mean_b = sel.groupby("layer").agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy_std", "mean"))
    chance = pd.concat([mean_b.reset_index().assign(concept="mean"), per.reset_index()], ignore_index=True)
    return curves.reset_index(drop=True), chance


# ---- transfer ----

def accuracy_matrix(run: Run, concepts: list[str], languages: list[str], layer: int | str = "selected") -> pd.DataFrame:
    """Acc(source -> target), S x T, mean over ``concepts``, at each pair's selected or oracle layer, or at
    one layer (``"last"`` or an int) for every concept."""
    if layer in LAYERS:
        return stats.point_matrix(run, concepts, languages, layer)
    t = run.transfer[run.transfer.concept.isin(concepts)]
    return metrics.concept_mean(t[t.layer == _layer(run, layer)], languages, concepts)


def layer_kinds(run: Run) -> list[tuple[str, str]]:
    """The layers a run's tables are shown at, ``[(kind, label)]``: the layer chosen without peeking and the
    paper's oracle; the oracle alone under the paper's split (where the two are the same)."""
    oracle = ("oracle", "oracle layer, as the paper")
    return [("selected", "layer chosen without peeking"), oracle] if run.record.layer_choice == "inner" else [oracle]


def transfer_stack(run: Run, concept: str | None, languages: list[str], concepts: list[str] | None = None,
                   every_layer: bool = True) -> dict:
    """Everything the transfer heatmap of one concept (or, with ``concept=None``, the mean over
    ``concepts``) shows, on ``languages`` in that order.

    Returns ``{"acc": [K, S, T], "mono": [K, T], "delta": [K, S, T], "delta_lo", "delta_hi": [K, S, T],
    "n_test": [T], "steps": [K names], "unseen": [languages never seen in pre-training]}``: first the
    per-pair layers of :func:`layer_kinds` (with intervals of Delta), then, with ``every_layer``, each
    layer 1..L (no intervals: NaN).
    """
    cs = [concept] if concept else list(concepts)
    kinds = [k for k, _ in layer_kinds(run)]
    steps = kinds + ([str(l) for l in range(1, run.num_layers + 1)] if every_layer else [])
    acc = np.stack([accuracy_matrix(run, cs, languages, k if k in LAYERS else int(k)).to_numpy(dtype=float)
                    for k in steps])
    mono = np.stack([np.diag(a) for a in acc])
    lo = np.full(acc.shape, np.nan)
    hi = np.full(acc.shape, np.nan)
    for i, kind in enumerate(kinds):
        d = stats.delta_table(run, cs, languages, kind)
        lo[i] = d.delta_lo.to_numpy().reshape(len(languages), -1)
        hi[i] = d.delta_hi.to_numpy().reshape(len(languages), -1)
    rec = recognition(run, cs)
    n = rec[rec.layer == 1].groupby("language").n_test.sum().reindex(languages).to_numpy(dtype=float)
    return {"acc": acc, "mono": mono, "delta": stats.delta(acc), "delta_lo": lo, "delta_hi": hi, "n_test": n,
            "steps": steps, "unseen": unseen_languages(run, languages)}


# ---- consistency ----

def cosine_matrix(run: Run, concept: str, layer: int, languages: list[str] | None = None,
                  value: str = "cosine") -> pd.DataFrame:
    """Cosine between the concept vectors of every two languages at one layer, S x S."""
    c = run.consistency
    c = c[(c.concept == concept) & (c.layer == layer)]
    m = c.pivot(index="source", columns="target", values=value)
    langs = languages or D.order_languages(m.index)
    return m.reindex(index=langs, columns=langs)


def cosine_at(run: Run, concepts: list[str], languages: list[str], layer: int | str = "best") -> dict[str, pd.DataFrame]:
    """``{"mean": S x S, concept: S_c x S_c, ...}``: cosines at each concept's best layer
    (:func:`concept_best_layers`) or at one layer (``"last"`` or an int); ``"mean"`` averages
    ``concepts`` on ``languages``; each concept of the run with two or more languages keeps its own."""
    best = concept_best_layers(run)
    shown = list(dict.fromkeys([*concepts, *(c for c in run.concepts if len(run.languages(c)) > 1)]))
    at = {c: best[c] if layer == "best" else _layer(run, layer) for c in shown}
    out = {c: cosine_matrix(run, c, at[c]) for c in shown}
    mean = sum(out[c].reindex(index=languages, columns=languages) for c in concepts) / len(concepts)
    return {"mean": mean} | out


def consistency_by_depth(run: Run, languages: list[str] = D.SHARED_LANGUAGES) -> pd.DataFrame:
    """Mean cosine (and the means of its interval ends) over the distinct pairs of ``languages`` a concept
    has, per concept and layer.

    Columns: concept (and ``"mean"``, over the concepts that have two or more of the languages), layer,
    relative_depth (layer / L), cosine, cosine_lo, cosine_hi, n_pairs.
    """
    c = run.consistency
    c = c[(c.source < c.target) & c.source.isin(languages) & c.target.isin(languages)]
    g = c.groupby(["concept", "layer"]).agg(cosine=("cosine", "mean"), cosine_lo=("cosine_lo", "mean"),
                                            cosine_hi=("cosine_hi", "mean"), n_pairs=("cosine", "size")).reset_index()
    mean = g.groupby("layer").agg(cosine=("cosine", "mean"), cosine_lo=("cosine_lo", "mean"),
                                  cosine_hi=("cosine_hi", "mean"), n_pairs=("n_pairs", "sum")).reset_index()
    g = pd.concat([g, mean.assign(concept="mean")], ignore_index=True)
    g["relative_depth"] = g.layer / run.num_layers
    return g[["concept", "layer", "relative_depth", "cosine", "cosine_lo", "cosine_hi", "n_pairs"]]


def best_layer_consistency(run: Run, languages: list[str] = D.SHARED_LANGUAGES) -> float:
    """Mean over concepts of the mean pairwise cosine among ``languages`` at the concept's best layer
    (NaN when no concept has two of the languages)."""
    depth = consistency_by_depth(run, languages)
    best = concept_best_layers(run)
    vals = [depth[(depth.concept == c) & (depth.layer == l)].cosine for c, l in best.items()]
    vals = [float(v.iloc[0]) for v in vals if len(v)]
    return float(np.mean(vals)) if vals else float("nan")


def run_summary(runs: list[Run], languages: list[str] = D.SHARED_LANGUAGES) -> pd.DataFrame:
    """One row per run: name, model, family, num_parameters, num_layers, best_layer_consistency
    (on ``languages``)."""
    return pd.DataFrame([{"run": r.name, "model": r.model, "family": r.record.family,
                          "num_parameters": r.num_parameters, "num_layers": r.num_layers,
                          "best_layer_consistency": best_layer_consistency(r, languages)} for r in runs])


# ---- one concept against another ----

def cross_concept_matrix(run: Run, languages: list[str] | None = None, layer: int | str = "best") -> pd.DataFrame:
    """Concept A's vectors (rows) scored on concept B's pairs (columns), mean over ``languages``, at the
    layer of best mean recognition of B (or one layer); the diagonal is B's own cross-validated recognition."""
    best = concept_best_layers(run)
    x = run.cross_concept
    rec = recognition(run)
    if languages is not None:
        x, rec = x[x.language.isin(languages)], rec[rec.language.isin(languages)]
    at = {b: best[b] if layer == "best" else _layer(run, layer) for b in run.concepts}
    off = x[x.layer == x.pairs.map(at)].groupby(["concept", "pairs"]).accuracy.mean().unstack("pairs")
    diag = rec[rec.layer == rec.concept.map(at)].groupby("concept").accuracy.mean()
    m = off.reindex(index=run.concepts, columns=run.concepts)
    for c in run.concepts:
        m.loc[c, c] = diag.get(c, np.nan)
    return m
