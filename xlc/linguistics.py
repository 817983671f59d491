"""Linguistic distances between languages (lang2vec / URIEL) and their correlation with consistency.

The paper asks whether languages that are linguistically close also have consistent concept vectors:
it correlates (Pearson) the cosine between two languages' concept vectors with their lang2vec
similarity (1 - distance). Two readings:

- **Direct**: one correlation over all unordered language pairs {a, b}.
- **Split**: one correlation per language a, over the pairs {a, b} with every other language b
  (a row of the matrices), then the mean over languages. Each language's overall level of
  consistency (which follows its share of the training data more than its linguistics) is
  constant within a row, so Split asks "are a language's linguistically closer neighbours also its
  more consistent ones?" without the resource effect that Direct mixes in. This is xlc's
  definition; the paper names the two columns but does not spell Split out.

Distances come from the ``lang2vec`` package (offline, URIEL data shipped with it). The pip
release has feature vectors but no precomputed distances, so xlc computes cosine distances between
URIEL feature vectors, over the features both languages have: genetic from family membership
(``fam``), syntactic and phonological from the union of the WALS/SSWL/Ethnologue typological
features, geographic from the closeness-to-reference-points vector (``geo``). These follow the
paper's own values (:func:`xlc.reference.paper_distances`) closely for genetic and syntactic and
loosely for the others; both are shown side by side. Pearson's r does not depend on the scale.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from xlc.errors import XlcError
from xlc.io import cache_root, sha256_json, write_json
from xlc.reference import paper_distances as _paper

KINDS = ("genetic", "syntactic", "geographic", "phonological")
FEATURES = {
    "genetic": "fam",
    "syntactic": "syntax_wals|syntax_sswl|syntax_ethnologue",
    "geographic": "geo",
    "phonological": "phonology_wals|phonology_ethnologue",
}


def known(languages: list[str]) -> list[str]:
    """The languages of ``languages`` that xlc has lang2vec codes and the paper's distances for (the study's 16)."""
    return [l for l in languages if l in _paper()["languages"]]


def iso639_3(lang: str) -> str:
    """The ISO 639-3 code lang2vec uses for one of the study's languages (``sw`` -> ``swh``)."""
    langs = _paper()["languages"]
    if lang not in langs:
        raise XlcError(f"language {lang!r}: no ISO 639-3 code known; the study's languages are {', '.join(langs)}")
    return langs[lang]["iso639_3"]


def cosine_distance(features: np.ndarray) -> np.ndarray:
    """``[n, n]`` cosine distances between rows of ``features`` ``[n, F]``, NaN = unknown feature.

    Each pair uses only the features both rows have; a pair with none in common (or a zero vector)
    gets NaN. Distances are in [0, 2] (in [0, 1] for non-negative features).
    """
    x = np.asarray(features, dtype=float)
    known = ~np.isnan(x)
    z = np.where(known, x, 0.0)
    dot = z @ z.T
    sq = (z ** 2) @ known.T.astype(float)  # sq[i, j]: |x_i|^2 over the features j has
    denom = np.sqrt(sq * sq.T)
    with np.errstate(invalid="ignore", divide="ignore"):
        d = 1.0 - dot / denom
    d[denom == 0] = np.nan
    np.fill_diagonal(d, 0.0)
    return np.clip(d, 0.0, 2.0)


_NP_LOAD = np.load


def _eager_load(path, *args, **kwargs):
    """``np.load`` that reads a .npz into a dict at once: lang2vec indexes its lazy NpzFile inside
    loops, decompressing the same array once per language or feature (10-30 s instead of 1 s)."""
    with _NP_LOAD(path, *args, **kwargs) as z:
        return {k: z[k] for k in z.files}


def _lang2vec():
    """The ``lang2vec.lang2vec`` module, imported with the eager loader (its import scans a .npz)."""
    import sys

    if "lang2vec.lang2vec" not in sys.modules:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lang2vec imports pkg_resources, deprecated
            np.load = _eager_load
            try:
                import lang2vec.lang2vec  # noqa: F401
            finally:
                np.load = _NP_LOAD
    return sys.modules["lang2vec.lang2vec"]


def _features(codes: list[str], feature_set: str) -> np.ndarray:
    l2v = _lang2vec()
    np.load = _eager_load  # lang2vec calls numpy.load through its own ``np`` (this very module)
    try:
        table = l2v.get_features(codes, feature_set)
    finally:
        np.load = _NP_LOAD
    return np.array([[np.nan if v == "--" else float(v) for v in table[c]] for c in codes])


def lang2vec_distances(languages: list[str], kinds=KINDS, cache: str | Path | None = None) -> dict[str, pd.DataFrame]:
    """``{kind: S x S distance DataFrame}`` from the lang2vec package, computed offline.

    Results are cached under ``$XLC_CACHE/lang2vec`` (reading lang2vec's feature files takes seconds).
    """
    import importlib.metadata as md

    kinds = list(kinds)
    for k in kinds:
        if k not in FEATURES:
            raise XlcError(f"distance kind {k!r}: use one of {', '.join(FEATURES)}")
    codes = [iso639_3(l) for l in languages]
    folder = Path(cache) if cache else cache_root() / "lang2vec"
    key = sha256_json([codes, [FEATURES[k] for k in kinds], md.version("lang2vec"), 1])[:24]
    path = folder / f"{key}.json"
    if path.is_file():
        raw = json.loads(path.read_text(encoding="utf-8"))
    else:
        raw = {k: cosine_distance(_features(codes, FEATURES[k])).tolist() for k in kinds}
        try:
            write_json(path, raw)
        except OSError:
            pass  # a read-only cache only costs the recomputation
    return {k: pd.DataFrame(np.array(raw[k], dtype=float), index=languages, columns=languages) for k in kinds}


def paper_distances(languages: list[str], kinds=KINDS) -> dict[str, pd.DataFrame]:
    """``{kind: S x S distances}`` as the paper's analysis used them (labelled as the paper's)."""
    dist = _paper()["distances"]
    return {k: pd.DataFrame([[dist[k][a][b] for b in languages] for a in languages], index=languages,
                            columns=languages, dtype=float) for k in kinds}


def pair_table(cosine: pd.DataFrame, distances: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Long table over unordered pairs a < b (in ``cosine``'s order): a, b, cosine, and per kind the
    similarity ``1 - distance``."""
    langs = list(cosine.index)
    i, j = np.triu_indices(len(langs), 1)
    out = pd.DataFrame({"a": np.array(langs)[i], "b": np.array(langs)[j],
                        "cosine": cosine.to_numpy(dtype=float)[i, j]})
    for k, d in distances.items():
        out[k] = 1.0 - d.reindex(index=langs, columns=langs).to_numpy(dtype=float)[i, j]
    return out


def _pearson(x: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    ok = ~(np.isnan(x) | np.isnan(y))
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan"), float("nan"), int(len(x))
    r, p = stats.pearsonr(x, y)
    return float(r), float(p), int(len(x))


def split_correlation(cosine: pd.DataFrame, similarity: pd.DataFrame) -> pd.Series:
    """Per language a: Pearson r between cos(a, b) and similarity(a, b) over the other languages b.

    ``cosine`` and ``similarity``: S x S on the same languages. NaN for a language with fewer than
    three usable pairs or a constant row.
    """
    langs = list(cosine.index)
    c = cosine.to_numpy(dtype=float)
    s = similarity.reindex(index=langs, columns=langs).to_numpy(dtype=float)
    out = {}
    for a in range(len(langs)):
        others = np.arange(len(langs)) != a
        out[langs[a]] = _pearson(c[a, others], s[a, others])[0]
    return pd.Series(out, name="r")


def mantel(cosine: pd.DataFrame, similarity: pd.DataFrame, permutations: int = 9999, seed: int = 0) -> tuple[float, float]:
    """Mantel test: Pearson r between two S x S matrices over the unordered pairs, and its permutation p
    (one-sided, r at least as large), permuting the languages of one matrix (rows and columns together).

    Pairs share languages, so they are not independent: the ordinary p of Pearson's r over pairs is too
    small; permuting whole languages keeps that dependence.
    """
    langs = list(cosine.index)
    c = cosine.to_numpy(dtype=float)
    s = similarity.reindex(index=langs, columns=langs).to_numpy(dtype=float)
    i, j = np.triu_indices(len(langs), 1)
    r = _pearson(c[i, j], s[i, j])[0]
    if np.isnan(r) or np.isnan(s[i, j]).any() or np.isnan(c[i, j]).any():
        return r, float("nan")
    rng = np.random.default_rng(seed)
    perms = np.array([rng.permutation(len(langs)) for _ in range(permutations)])  # [P, S]
    x = s[perms[:, i], perms[:, j]]  # [P, pairs]: similarity with languages relabelled
    y = c[i, j]
    xc = x - x.mean(1, keepdims=True)
    yc = y - y.mean()
    rs = (xc @ yc) / np.sqrt((xc ** 2).sum(1) * (yc ** 2).sum())
    return float(r), float((1 + (rs >= r - 1e-12).sum()) / (permutations + 1))


def correlations(cosine: pd.DataFrame, distances: dict[str, pd.DataFrame], permutations: int = 9999) -> pd.DataFrame:
    """Pearson correlation of consistency with similarity (1 - distance), per kind.

    Columns: direct_r, direct_p (Pearson's p, pairs taken as independent), mantel_p (permuting languages),
    n_pairs (Direct, over all unordered pairs), split_r (Split: mean over languages of the per-language r),
    n_languages (languages with a defined per-language r).
    """
    pairs = pair_table(cosine, distances)
    rows = {}
    for k, d in distances.items():
        r, p, n = _pearson(pairs.cosine.to_numpy(), pairs[k].to_numpy())
        split = split_correlation(cosine, 1.0 - d)
        rows[k] = {"direct_r": r, "direct_p": p, "mantel_p": mantel(cosine, 1.0 - d, permutations)[1],
                   "n_pairs": n, "split_r": float(split.mean()) if split.notna().any() else float("nan"),
                   "n_languages": int(split.notna().sum())}
    return pd.DataFrame.from_dict(rows, orient="index")


def agreement(ours: dict[str, pd.DataFrame], paper: dict[str, pd.DataFrame]) -> pd.Series:
    """Per kind, Pearson r between xlc's lang2vec distances and the paper's over unordered pairs."""
    out = {}
    for k in ours:
        langs = list(ours[k].index)
        i, j = np.triu_indices(len(langs), 1)
        a = ours[k].to_numpy(dtype=float)[i, j]
        b = paper[k].reindex(index=langs, columns=langs).to_numpy(dtype=float)[i, j]
        out[k] = _pearson(a, b)[0]
    return pd.Series(out, name="r")
