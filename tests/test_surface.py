"""xlc.surface: the text-only baselines, against a plain scikit-learn pipeline and hand-computed rules."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from xlc import surface

WORDS = {"en": (["kind", "helped", "gave", "shared", "thanked"], ["cruel", "hit", "took", "hid", "mocked"]),
         "fr": (["gentil", "aida", "donna", "partagea", "remercia"], ["cruel", "frappa", "prit", "cacha", "moqua"])}


def texts(n=20, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for lang, (good, bad) in WORDS.items():
        pos, neg = [], []
        for i in range(n):
            who = f"person{i % 7}"
            g, b = rng.choice(good), rng.choice(bad)
            if rng.random() < 0.3:  # some pairs read the other way, so that not every pair is won
                g, b = b, g
            pos.append(f"{who} {g} the neighbour")
            neg.append(f"{who} {b} the neighbour" + " today" * int(rng.integers(0, 2)))
        out[lang] = (pos, neg)
    return out


def plain_ngram(texts, folds, tested, present):
    """The n-gram baseline written the plain way: a TfidfVectorizer fitted on each rule's training texts."""
    langs = list(texts)
    out = np.full((len(langs), len(langs), len(folds)), np.nan)
    for k in np.flatnonzero(tested):
        for s, src in enumerate(langs):
            tr = np.flatnonzero((folds != k) & (folds >= 0) & present[s])
            vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True, sublinear_tf=True)
            x = vec.fit_transform([texts[src][0][i] for i in tr] + [texts[src][1][i] for i in tr])
            clf = LogisticRegression(C=10.0, max_iter=2000).fit(x, np.r_[np.ones(len(tr)), np.zeros(len(tr))])
            for t, tgt in enumerate(langs):
                te = np.flatnonzero((folds == k) & present[t])
                m = (clf.decision_function(vec.transform([texts[tgt][0][i] for i in te]))
                     - clf.decision_function(vec.transform([texts[tgt][1][i] for i in te])))
                out[s, t, te] = surface.pair_outcome(m)
    return out


def test_ngram_baseline_equals_a_plain_tfidf_pipeline():
    # the counts are made once per concept and each rule keeps its own training texts' n-grams: the same outcomes
    tx = texts()
    folds = np.arange(20) % 4
    folds[3] = -1  # an item not used
    present = np.ones((2, 20), dtype=bool)
    present[1, 5] = False  # an item fr lacks
    tx["fr"][0][5] = tx["fr"][1][5] = ""
    tested = np.ones(4, dtype=bool)
    got = surface.cross_language(tx, folds, tested, "ngram", present)
    want = plain_ngram(tx, folds, tested, present)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.isnan(got[:, :, 3]).all() and np.isnan(got[:, 1, 5]).all() and not np.isnan(got[:, 0, 5]).any()
    assert 0 < np.nanmean(got) < 1  # neither trivially all won nor all lost


def test_ngram_classifier_margins_equal_the_plain_pipeline():
    # TF-IDF computed from counts made once over every text: the same features and margins as fitting on the
    # training texts alone
    tx = texts(seed=1)
    every = [t for lang in tx for side in tx[lang] for t in side]  # en pos, en neg, fr pos, fr neg
    counts = surface.ngram_counts(every)
    tr, te = np.arange(0, 14), np.arange(14, 20)
    clf = surface.NgramClassifier().fit(counts[tr], counts[20 + tr])
    got = clf.margins(counts[40 + te], counts[60 + te])  # trained on en, scored on fr
    en_pos, en_neg = tx["en"]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), lowercase=True, sublinear_tf=True)
    x = vec.fit_transform([en_pos[i] for i in tr] + [en_neg[i] for i in tr])
    plain = LogisticRegression(C=10.0, max_iter=2000).fit(x, np.r_[np.ones(14), np.zeros(14)])
    want = (plain.decision_function(vec.transform([tx["fr"][0][i] for i in te]))
            - plain.decision_function(vec.transform([tx["fr"][1][i] for i in te])))
    assert np.allclose(got, want, rtol=1e-6, atol=1e-9) and np.abs(want).max() > 0.1


def test_length_rule_follows_the_training_sign_and_ties_count_one_half():
    train = np.array([3.0, -1.0, 2.0])  # positives longer on average
    assert list(surface.length_rule(train, np.array([5.0, -2.0, 0.0]))) == [1.0, 0.0, 0.5]
    assert list(surface.length_rule(-train, np.array([5.0, -2.0]))) == [0.0, 1.0]
    assert list(surface.length_rule(np.array([1.0, -1.0]), np.array([4.0]))) == [0.5]  # no direction: a coin flip


def test_cross_validated_length_rule_on_one_file():
    pos = ["aaaa", "bbbbb", "cc", "dddd", "eeeeee", "ff"]
    neg = ["aa", "bb", "ccc", "d", "eee", "f"]
    folds = np.array([0, 0, 1, 1, 2, 2])
    # every training set has positives longer on average: a test pair is won when its positive is longer
    out = surface.cross_validated(pos, neg, folds, "length")
    assert list(out) == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0]
    figures = surface.file_figures(pos, neg, folds)
    assert figures["length"] == np.mean(out) and 0 <= figures["ngram"] <= 1
