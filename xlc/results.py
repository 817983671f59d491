"""Reading run folders written by ``xlc run``, and the views of them that the book shows.

A :class:`Run` holds one folder's long tables (``transfer``, ``consistency``, ``baseline``) and its
``run.json``. The functions below turn them into the paper's views: matrices are DataFrames with
source languages as rows and target languages as columns (S x T); long tables have one row per
measurement. Accuracies are in [0, 1], cosines in [-1, 1], layers count from 1 (the first block;
the embeddings are not a layer) to L, and relative depth is ``layer / L`` in (0, 1].

"Best layer" has two meanings, both from the paper: for accuracies (Tables 7 and 8, the transfer
heatmaps) each (concept, source, target) takes its own best layer (:func:`xlc.metrics.best_layer`);
for cosines, which have no notion of "better", each concept takes the layer where its recognition
accuracy, averaged over its languages, is highest (:func:`concept_best_layers`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from xlc import data as D
from xlc import metrics
from xlc.errors import XlcError
from xlc.reference import model_families

REQUIRED = ("run.json", "transfer.csv", "consistency.csv")


@dataclass
class Run:
    """One run folder. ``info`` is run.json; the frames are the folder's CSV files as written."""

    path: Path
    name: str
    info: dict
    transfer: pd.DataFrame
    consistency: pd.DataFrame
    baseline: pd.DataFrame | None

    @property
    def model(self) -> str:
        return self.info["model"]

    @property
    def num_layers(self) -> int:
        return int(self.info["num_layers"])

    @property
    def num_parameters(self) -> int | None:
        return self.info.get("num_parameters")

    @property
    def family(self) -> dict | None:
        """The paper's model family of this run (run.json ``family``), or None."""
        name = self.info.get("family")
        return dict(model_families()["families"][name], name=name) if name else None

    @property
    def concepts(self) -> list[str]:
        return list(self.info["concepts"])

    def languages(self, concept: str | None = None) -> list[str]:
        """The languages of one concept, or of any concept, in the study's order."""
        langs = self.info["languages"]
        return list(langs[concept]) if concept else D.order_languages({l for c in self.concepts for l in langs[c]})


def load_run(path: str | Path, name: str | None = None) -> Run:
    """Read a run folder; raise XlcError naming the missing or broken file."""
    path = Path(path)
    if not path.is_dir():
        raise XlcError(f"{path}: run folder not found; write one with 'xlc run --out {path}'")
    for f in REQUIRED:
        if not (path / f).is_file():
            raise XlcError(f"{path / f}: missing; the run is incomplete (run.json is written last), rerun 'xlc run'")
    try:
        info = json.loads((path / "run.json").read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise XlcError(f"{path / 'run.json'}: invalid JSON ({e.msg} at line {e.lineno}); rerun 'xlc run'") from None
    for key in ("model", "num_layers", "concepts", "languages"):
        if key not in info:
            raise XlcError(f"{path / 'run.json'}: no field {key!r}; written by an older xlc? rerun 'xlc run'")
    baseline = pd.read_csv(path / "baseline.csv") if (path / "baseline.csv").is_file() else None
    return Run(path, name or path.name, info, pd.read_csv(path / "transfer.csv"),
               pd.read_csv(path / "consistency.csv"), baseline)


def load_runs(paths) -> list[Run]:
    """Several run folders, named by folder; equal folder names get their parent's name prepended."""
    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    names = [f"{p.parent.name}-{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
    return [load_run(p, n) for p, n in zip(paths, names)]


# ---- which concepts and languages a view covers ----

def scope(run: Run, concepts: list[str] | None = None, languages: list[str] | None = None) -> tuple[list[str], list[str]]:
    """The concepts and languages of a concept-mean view: ``(concepts, languages)``.

    Given ``languages``, every concept must have them all (else XlcError). Otherwise the languages are
    those common to the concepts; when ``concepts`` is None and fewer than two languages are common,
    the concepts with the fewest languages are dropped one by one until two are (so that a data set
    still being translated gives a cross-lingual view of the concepts that are).
    """
    chosen = list(concepts or run.concepts)
    for c in chosen:
        if c not in run.concepts:
            raise XlcError(f"concept {c!r} is not in {run.path}; it has {', '.join(run.concepts)}")
    if languages:
        for c in chosen:
            missing = [l for l in languages if l not in run.languages(c)]
            if missing:
                raise XlcError(f"{run.path}: concept {c!r} has no {', '.join(missing)}; choose other languages")
        return chosen, list(languages)

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


# ---- recognition (source == target) ----

def recognition(run: Run, concepts: list[str] | None = None) -> pd.DataFrame:
    """Long table: concept, language, layer, accuracy, n_test; one row per recognition measurement."""
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


def recognition_table(run: Run, concepts: list[str] | None = None, layer: int | str = "best") -> pd.DataFrame:
    """Recognition accuracy, languages x concepts (NaN where a concept lacks a language), at each
    (concept, language)'s best layer or at one layer (``"last"`` or an int), plus a ``mean`` column
    over the concepts each language has."""
    rec = recognition(run, concepts).rename(columns={"language": "source"}).assign(target=lambda d: d.source)
    if layer == "best":
        rec = metrics.best_layer(rec)
    else:
        rec = rec[rec.layer == (run.num_layers if layer == "last" else int(layer))]
    table = rec.pivot(index="source", columns="concept", values="accuracy")
    table = table.reindex(index=D.order_languages(table.index), columns=[c for c in run.concepts if c in table.columns])
    table["mean"] = table.mean(axis=1)
    table.index.name = "language"
    return table


def recognition_curves(run: Run, concepts: list[str], languages: list[str]) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Accuracy against layer: ``(curves, baseline)``.

    ``curves``: concept, language, layer, accuracy; concept ``"mean"`` first (over ``concepts``, on
    ``languages``), then each concept on its own languages. ``baseline``: concept, layer, accuracy,
    accuracy_std of the random directions, averaged over the same languages (None without baseline.csv).
    """
    rec = recognition(run)
    mean = rec[rec.concept.isin(concepts) & rec.language.isin(languages)]
    mean = mean.groupby(["language", "layer"], sort=False).accuracy.mean().reset_index().assign(concept="mean")
    curves = pd.concat([mean, rec[["concept", "language", "layer", "accuracy"]]], ignore_index=True)
    curves["order"] = curves.language.map({l: i for i, l in enumerate(D.order_languages(curves.language))})
    curves = curves.sort_values(["order", "layer"], kind="stable").drop(columns="order")
    curves = pd.concat([curves[curves.concept == "mean"]] + [curves[curves.concept == c] for c in run.concepts])
    if run.baseline is None:
        return curves.reset_index(drop=True), None
    b = run.baseline
    per = b.groupby(["concept", "layer"]).agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy_std", "mean"))
    sel = b[b.concept.isin(concepts) & b.language.isin(languages)]
    mean_b = sel.groupby("layer").agg(accuracy=("accuracy", "mean"), accuracy_std=("accuracy_std", "mean"))
    base = pd.concat([mean_b.reset_index().assign(concept="mean"), per.reset_index()], ignore_index=True)
    return curves.reset_index(drop=True), base


def baseline_comparison(run: Run, concepts: list[str] | None = None) -> pd.DataFrame:
    """Per (concept, language): best layer, its accuracy, and the random-direction baseline there.

    Columns: concept, language, layer, accuracy, baseline, baseline_std, margin (accuracy - baseline),
    above (margin > 2 baseline_std). Empty when the run has no baseline.csv.
    """
    cols = ["concept", "language", "layer", "accuracy", "baseline", "baseline_std", "margin", "above"]
    if run.baseline is None:
        return pd.DataFrame(columns=cols)
    rec = recognition(run, concepts).rename(columns={"language": "source"}).assign(target=lambda d: d.source)
    best = metrics.best_layer(rec).rename(columns={"source": "language"})
    base = run.baseline.rename(columns={"accuracy": "baseline", "accuracy_std": "baseline_std"})
    out = best.merge(base[["concept", "language", "layer", "baseline", "baseline_std"]],
                     on=["concept", "language", "layer"], how="left")
    out["margin"] = out.accuracy - out.baseline
    out["above"] = out.margin > 2 * out.baseline_std
    return out[cols]


# ---- transfer ----

def accuracy_matrix(run: Run, concepts: list[str], languages: list[str], layer: int | str = "best") -> pd.DataFrame:
    """Acc(source -> target), S x T, mean over ``concepts``.

    ``layer="best"``: each (concept, source, target) at its own best layer (the paper's,
    :func:`xlc.metrics.accuracy_matrix`); ``"last"`` or an int: that layer for every concept.
    """
    t = run.transfer[run.transfer.concept.isin(concepts)]
    if layer == "best":
        return metrics.accuracy_matrix(t, languages, concepts)
    layer = run.num_layers if layer == "last" else int(layer)
    if not 1 <= layer <= run.num_layers:
        raise XlcError(f"layer {layer}: {run.path} has layers 1..{run.num_layers}")
    at = t[t.layer == layer]
    full = at.groupby(["source", "target"]).concept.nunique() == len(concepts)
    matrix = at.groupby(["source", "target"]).accuracy.mean()[full].unstack("target")
    return matrix.reindex(index=languages, columns=languages)


def transfer_stack(run: Run, concept: str | None, languages: list[str], concepts: list[str] | None = None) -> dict:
    """Everything the transfer heatmap of one concept (or, with ``concept=None``, the mean over
    ``concepts``) shows, on ``languages`` in that order.

    Returns ``{"acc": [L+1, S, T], "mono": [L+1, T], "delta": [L+1, S, T], "n_test": [T]}`` where
    index 0 is the best layer (per pair, as in the paper) and index l is layer l; ``n_test`` is the
    number of test pairs of each target (summed over concepts for the mean).
    """
    cs = [concept] if concept else list(concepts)
    layers = [accuracy_matrix(run, cs, languages, "best")] + \
             [accuracy_matrix(run, cs, languages, l) for l in range(1, run.num_layers + 1)]
    acc = np.stack([m.to_numpy(dtype=float) for m in layers])
    mono = np.stack([np.diag(a) for a in acc])
    rec = recognition(run, cs)
    n = rec[rec.layer == 1].groupby("language").n_test.sum().reindex(languages).to_numpy(dtype=float)
    return {"acc": acc, "mono": mono, "delta": acc - mono[:, None, :], "n_test": n}


def table7(run: Run, concepts: list[str], languages: list[str]) -> dict:
    """Table 7 (appendix H.1) of this run, on ``languages``: see :func:`xlc.metrics.table7`."""
    return metrics.table7(accuracy_matrix(run, concepts, languages), languages)


def table8(run: Run, concepts: list[str], languages: list[str]) -> dict:
    """Table 8 (appendix H.3) on the shared languages among ``languages``: ``{"fractions": {lang:
    Fraction}, "display": {lang: int, "avg": int}, "languages": [...]}``."""
    subset = [l for l in D.SHARED_LANGUAGES if l in languages]
    fr = metrics.table8(accuracy_matrix(run, concepts, subset), subset) if len(subset) > 1 else {}
    return {"fractions": fr, "display": metrics.table8_display(fr) if fr else {}, "languages": subset}


# ---- consistency ----

def cosine_matrix(run: Run, concept: str, layer: int, languages: list[str] | None = None) -> pd.DataFrame:
    """Cosine between the concept vectors of every two languages at one layer, S x S."""
    c = run.consistency
    c = c[(c.concept == concept) & (c.layer == layer)]
    m = c.pivot(index="source", columns="target", values="cosine")
    langs = languages or D.order_languages(m.index)
    return m.reindex(index=langs, columns=langs)


def cosine_at(run: Run, concepts: list[str], languages: list[str], layer: int | str = "best") -> dict[str, pd.DataFrame]:
    """``{"mean": S x S, concept: S_c x S_c, ...}``: cosines at each concept's best layer
    (:func:`concept_best_layers`) or at one layer (``"last"`` or an int); ``"mean"`` averages
    ``concepts`` on ``languages``; each concept of ``concepts``, and every other concept of the run
    with two or more languages, keeps its own languages."""
    best = concept_best_layers(run)
    shown = list(dict.fromkeys([*concepts, *(c for c in run.concepts if len(run.languages(c)) > 1)]))
    at = {c: best[c] if layer == "best" else (run.num_layers if layer == "last" else int(layer)) for c in shown}
    out = {c: cosine_matrix(run, c, at[c]) for c in shown}
    mean = sum(out[c].reindex(index=languages, columns=languages) for c in concepts) / len(concepts)
    return {"mean": mean} | out


def consistency_by_depth(run: Run, languages: list[str] = D.SHARED_LANGUAGES) -> pd.DataFrame:
    """Mean cosine over the distinct pairs of ``languages`` a concept has, per concept and layer.

    Columns: concept (and ``"mean"``, over the concepts that have two or more of the languages),
    layer, relative_depth (layer / L), cosine, n_pairs. Concepts with fewer than two are left out.
    """
    c = run.consistency
    c = c[(c.source < c.target) & c.source.isin(languages) & c.target.isin(languages)]
    g = c.groupby(["concept", "layer"]).cosine.agg(cosine="mean", n_pairs="size").reset_index()
    mean = g.groupby("layer").agg(cosine=("cosine", "mean"), n_pairs=("n_pairs", "sum")).reset_index()
    g = pd.concat([g, mean.assign(concept="mean")], ignore_index=True)
    g["relative_depth"] = g.layer / run.num_layers
    return g[["concept", "layer", "relative_depth", "cosine", "n_pairs"]]


def best_layer_consistency(run: Run, languages: list[str] = D.SHARED_LANGUAGES) -> float:
    """Mean over concepts of the mean pairwise cosine among ``languages`` at the concept's best
    layer (NaN when no concept has two of the languages)."""
    depth = consistency_by_depth(run, languages)
    best = concept_best_layers(run)
    vals = [depth[(depth.concept == c) & (depth.layer == l)].cosine for c, l in best.items()]
    vals = [float(v.iloc[0]) for v in vals if len(v)]
    return float(np.mean(vals)) if vals else float("nan")


def run_summary(runs: list[Run], languages: list[str] = D.SHARED_LANGUAGES) -> pd.DataFrame:
    """One row per run: name, model, family, num_parameters, num_layers, best_layer_consistency
    (on ``languages``)."""
    return pd.DataFrame([{"run": r.name, "model": r.model, "family": r.info.get("family"),
                          "num_parameters": r.num_parameters, "num_layers": r.num_layers,
                          "best_layer_consistency": best_layer_consistency(r, languages)} for r in runs])
