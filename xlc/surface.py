"""Surface baselines: how far the text alone, with no model, tells a positive from a negative.

A concept direction found in a model's hidden states is only interesting beyond what the surface of
the text already gives away. Two baselines, scored like the model (pairwise: is the positive side
ranked above the negative one?) on the same folds:

- **length rule**: the sign of mean(len(positive) - len(negative)) over the training pairs, in
  characters; a test pair is recognised when its length difference has that sign. A pair of equal
  length is a coin flip (0.5).
- **character n-grams**: a logistic regression on TF-IDF character 1-4-grams (scikit-learn) of the
  training texts, positive against negative; a test pair is recognised when its positive scores
  higher (a tie counts 0.5). Trained on one language and tested on another, it measures the
  transfer that shared spelling alone explains.

Only the side that differs within a pair is read (the answer; a deontology scenario or a
truthfulness question is the same on both sides and carries no label).
"""

from __future__ import annotations

import numpy as np

BASELINES = ("length", "ngram")
FORMAT = 1  # of the cached outcomes


def answers(item: dict) -> tuple[str, str]:
    """The two texts that differ within an item: ``(pos, neg)``."""
    return item["pos"], item["neg"]


def pair_outcome(margin: np.ndarray) -> np.ndarray:
    """1 where the positive side wins, 0 where it loses, 0.5 for a tie."""
    return np.where(margin > 0, 1.0, np.where(margin < 0, 0.0, 0.5))


def length_margins(pos: list[str], neg: list[str]) -> np.ndarray:
    """len(positive) - len(negative) in characters, per pair."""
    return np.array([len(p) - len(n) for p, n in zip(pos, neg)], dtype=float)


def length_rule(train_margins: np.ndarray, test_margins: np.ndarray) -> np.ndarray:
    """Outcomes (0, 0.5, 1) of the length rule fitted on ``train_margins``, on the test pairs."""
    direction = np.sign(train_margins.mean()) if len(train_margins) else 0.0
    return pair_outcome(direction * test_margins) if direction else np.full(len(test_margins), 0.5)


class NgramClassifier:
    """Character 1-4-gram TF-IDF and a logistic regression, positive (1) against negative (0) texts."""

    def fit(self, pos: list[str], neg: list[str]) -> NgramClassifier:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True, lowercase=True)
        x = self.vectorizer_.fit_transform(list(pos) + list(neg))
        y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
        self.model_ = LogisticRegression(C=10.0, max_iter=2000).fit(x, y)
        return self

    def margins(self, pos: list[str], neg: list[str]) -> np.ndarray:
        """decision(positive) - decision(negative) per pair."""
        score = self.model_.decision_function(self.vectorizer_.transform(list(pos) + list(neg)))
        return score[:len(pos)] - score[len(pos):]


def cross_validated(pos: list[str], neg: list[str], folds: np.ndarray, baseline: str) -> np.ndarray:
    """Per-pair outcomes of a baseline under cross-validation within one language.

    ``folds``: ``[N]`` fold index of each pair; each pair is scored by a rule fitted on the other folds.
    """
    return cross_language({"x": (pos, neg)}, folds, np.ones(int(folds.max()) + 1, dtype=bool), baseline)[0, 0]


def cross_language(texts: dict[str, tuple[list[str], list[str]]], folds: np.ndarray, tested: np.ndarray,
                   baseline: str, present: np.ndarray | None = None) -> np.ndarray:
    """Per-pair outcomes ``[S, T, N]`` of a baseline fitted on source s's items outside a fold and scored on
    target t's items of that fold, for aligned items.

    ``texts``: ``{lang: (pos, neg)}``, the same N items in every language (absent items as empty strings
    with ``present[s, i] = False``); ``folds``: ``[N]`` (-1: not used); ``tested``: ``[K]`` folds that are
    tested. NaN where a pair is not scored.
    """
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline {baseline!r}; use one of {', '.join(BASELINES)}")
    langs = list(texts)
    S, N = len(langs), len(folds)
    present = np.ones((S, N), dtype=bool) if present is None else present
    out = np.full((S, S, N), np.nan)
    for k in np.flatnonzero(tested):
        test, train = folds == k, (folds != k) & (folds >= 0)
        # every target's tested pairs at once: one transform per fitted rule
        items = [(t, i) for t in range(S) for i in np.flatnonzero(test & present[t])]
        tp = [texts[langs[t]][0][i] for t, i in items]
        tn = [texts[langs[t]][1][i] for t, i in items]
        rows, cols = np.array([t for t, _ in items], dtype=int), np.array([i for _, i in items], dtype=int)
        for s, src in enumerate(langs):
            tr = np.flatnonzero(train & present[s])
            pos, neg = [texts[src][0][i] for i in tr], [texts[src][1][i] for i in tr]
            if baseline == "length":
                won = length_rule(length_margins(pos, neg), length_margins(tp, tn))
            else:
                won = pair_outcome(NgramClassifier().fit(pos, neg).margins(tp, tn))
            out[s, rows, cols] = won
    return out


def outcomes(texts: dict[str, tuple[list[str], list[str]]], folds: np.ndarray, tested: np.ndarray,
             present: np.ndarray) -> dict[str, np.ndarray]:
    """``{baseline: [S, T, N]}`` for every baseline, kept in ``$XLC_CACHE/surface`` under a key made of
    everything they depend on (the texts, the folds, the code's format and scikit-learn's version): they
    depend on the data only, so every run of the same data and folds reuses them."""
    import importlib.metadata as md

    from xlc.io import cache_root, sha256_json

    key = sha256_json({"format": FORMAT, "texts": texts, "folds": folds.tolist(), "tested": tested.tolist(),
                       "present": present.tolist(), "sklearn": md.version("scikit-learn")})
    path = cache_root() / "surface" / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            found = {b: z[b] for b in BASELINES}
        if all(v.shape == (len(texts), len(texts), len(folds)) for v in found.values()):
            return found
    except (OSError, KeyError, ValueError):
        pass
    found = {b: cross_language(texts, folds, tested, b, present) for b in BASELINES}
    try:
        from xlc.io import atomic_path

        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **found)
    except OSError:
        pass  # a read-only cache only costs the recomputation
    return found


def file_figures(concept: str, items: list[dict], folds: np.ndarray) -> dict:
    """Length rule and n-gram accuracy of one file under cross-validation: ``{"length": acc, "ngram": acc}``."""
    pos, neg = zip(*(answers(it) for it in items)) if items else ((), ())
    return {b: float(cross_validated(list(pos), list(neg), folds, b).mean()) for b in BASELINES}

