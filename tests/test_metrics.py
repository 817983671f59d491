import numpy as np
import pandas as pd
import pytest

from xlc import metrics
from xlc.reference import paper_table8


def test_table7_hand_computed():
    # Acc(A) on the diagonal; Acc(s->t) off it. Sources are rows.
    m = pd.DataFrame([[0.9, 0.8, 0.5],
                      [0.7, 0.6, 0.4],
                      [0.95, 0.3, 0.5]], index=list("abc"), columns=list("abc"))
    t7 = metrics.table7(m)
    # ordered pairs (A, B): geq = Acc(A) >= Acc(B); effective = Acc(A->B) >= Acc(B)
    # (a,b): .9>=.6, .8>=.6 eff | (a,c): .9>=.5, .5>=.5 eff | (b,a): .6<.9, .7<.9 no
    # (b,c): .6>=.5, .4<.5 no   | (c,a): .5<.9, .95>=.9 eff | (c,b): .5<.6, .3<.6 no
    assert t7["counts"] == {"geq_and_transfer": 2, "geq_and_no_transfer": 1, "lt_and_transfer": 1,
                            "lt_and_no_transfer": 2}
    assert t7["n_pairs"] == 6 and t7["geq_and_transfer"] == pytest.approx(100 * 2 / 6)
    assert sum(t7[k] for k in t7["counts"]) == pytest.approx(100)


def test_counts_on_replicate_stacks_match_one_matrix_at_a_time():
    rng = np.random.default_rng(3)
    stack = rng.integers(0, 5, size=(20, 4, 4)) / 4.0  # many ties
    stack[3, 1, 2] = np.nan
    counts = metrics.table7_counts(stack)
    hits, n = metrics.table8_counts(stack)
    for b in range(len(stack)):
        m = pd.DataFrame(stack[b], index=list("abcd"), columns=list("abcd"))
        t7 = metrics.table7(m)
        assert list(counts[b]) == [t7["counts"][k] for k in metrics.TABLE7]
        t8 = metrics.table8(m, list("abcd"))
        assert [(int(h), int(k)) for h, k in zip(hits[b], n[b])] == [t8[x] for x in "abcd"]
    assert n[3, 2] == 2 and counts[3].sum() == 11  # the missing cell is left out


def test_concept_mean_leaves_out_pairs_missing_in_a_concept():
    df = pd.DataFrame({"concept": ["a", "a", "b"], "source": ["en", "fr", "en"], "target": ["fr", "en", "fr"],
                       "accuracy": [0.5, 0.7, 0.9]})
    m = metrics.concept_mean(df, ["en", "fr"])
    assert m.loc["en", "fr"] == pytest.approx(0.7) and np.isnan(m.loc["fr", "en"])


def test_table8_fractions_and_paper_truncation():
    m = pd.DataFrame([[0.9, 0.8, 0.5],
                      [0.7, 0.6, 0.4],
                      [0.95, 0.3, 0.5]], index=list("abc"), columns=list("abc"))
    t8 = metrics.table8(m, ["a", "b", "c"])
    # a: from b .7 < .9, from c .95 >= .9; b: from a .8 >= .6, c .3 < .6; c: from a .5 >= .5, b .4 < .5
    assert t8 == {"a": (1, 2), "b": (1, 2), "c": (1, 2)}  # counts, never reduced
    assert metrics.table8_display({"x": (6, 7), "y": (1, 7)}) == {"x": 85, "y": 14, "avg": 49}
    assert metrics.table8_display({"x": (3, 6), "y": (0, 0)}) == {"x": 50, "y": 0, "avg": 25}


def test_display_reproduces_the_papers_printed_rows():
    # every printed row of the paper is k/7 truncated, with avg the truncated mean of the truncated values
    for row in paper_table8().itertuples():
        values = [getattr(row, l) for l in ["en", "zh", "fr", "es", "pt", "vi", "ca", "id"]]
        counts = {}
        for lang, v in zip(["en", "zh", "fr", "es", "pt", "vi", "ca", "id"], values):
            k = [k for k in range(8) if metrics.truncate_percent(k, 7) == v]
            assert len(k) == 1, (row, lang, v)
            counts[lang] = (k[0], 7)
        assert metrics.table8_display(counts)["avg"] == row.avg
