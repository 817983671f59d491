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
FORMAT = 2  # of the cached outcomes (2: the answers alone)


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


def ngram_counts(texts: list[str]):
    """Character 1-4-gram counts (within word boundaries, lower-cased) of texts: a sparse ``[n, V]`` matrix.
    Counted once for every text of a concept; each fitted rule then keeps the n-grams of its own training texts."""
    from sklearn.feature_extraction.text import CountVectorizer

    return CountVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True).fit_transform(texts).tocsr()


class NgramClassifier:
    """TF-IDF over the character n-grams of the training texts and a logistic regression, positive (1)
    against negative (0) texts: scikit-learn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4),
    sublinear_tf=True)`` fitted on the training texts, computed from counts made once (:func:`ngram_counts`)."""

    def fit(self, pos, neg) -> NgramClassifier:
        """``pos``, ``neg``: sparse count rows of the training texts."""
        from scipy import sparse
        from sklearn.linear_model import LogisticRegression

        x = sparse.vstack([pos, neg]).tocsr()
        df = np.asarray((x > 0).sum(0)).ravel()
        # the vocabulary is the n-grams of the training texts, as when fitting on them alone
        self.columns_ = np.flatnonzero(df)
        self.idf_ = np.log((1 + x.shape[0]) / (1 + df[self.columns_])) + 1
        y = np.r_[np.ones(pos.shape[0]), np.zeros(neg.shape[0])]
        self.model_ = LogisticRegression(C=10.0, max_iter=2000).fit(self._tfidf(x), y)
        return self

    def _tfidf(self, counts):
        from sklearn.preprocessing import normalize

        x = counts[:, self.columns_].astype(np.float64)
        x.data = 1.0 + np.log(x.data)
        return normalize(x.multiply(self.idf_[None, :]).tocsr())

    def margins(self, pos, neg) -> np.ndarray:
        """decision(positive) - decision(negative) per pair (sparse count rows)."""
        return self.model_.decision_function(self._tfidf(pos)) - self.model_.decision_function(self._tfidf(neg))


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
    if baseline == "ngram":  # rows: language by language, its positives then its negatives
        counts = ngram_counts([t for lang in langs for side in texts[lang] for t in side])
    for k in np.flatnonzero(tested):
        test, train = folds == k, (folds != k) & (folds >= 0)
        # every target's tested pairs at once: one scoring per fitted rule
        t_lang, t_item = np.nonzero(test[None] & present)
        for s, src in enumerate(langs):
            tr = np.flatnonzero(train & present[s])
            if baseline == "length":
                rule = length_margins([texts[src][0][i] for i in tr], [texts[src][1][i] for i in tr])
                test_margins = length_margins([texts[langs[t]][0][i] for t, i in zip(t_lang, t_item)],
                                              [texts[langs[t]][1][i] for t, i in zip(t_lang, t_item)])
                out[s, t_lang, t_item] = length_rule(rule, test_margins)
            else:
                clf = NgramClassifier().fit(counts[2 * s * N + tr], counts[(2 * s + 1) * N + tr])
                pos = counts[(2 * t_lang) * N + t_item]
                neg = counts[(2 * t_lang + 1) * N + t_item]
                out[s, t_lang, t_item] = pair_outcome(clf.margins(pos, neg))
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


def file_figures(pos: list[str], neg: list[str], folds: np.ndarray) -> dict:
    """Length rule and n-gram accuracy of one file's answers under cross-validation: ``{"length": acc, "ngram": acc}``."""
    return {b: float(cross_validated(pos, neg, folds, b).mean()) for b in BASELINES}
