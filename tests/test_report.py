"""xlc.report: the book's sentences follow the numbers (intervals or none, the direction of a paired difference,
counts expected by chance, the paper's split, untrained controls)."""

import numpy as np
import pandas as pd
import pytest
from fakerun import write_run

from xlc import report, results, runfolder, stats


@pytest.fixture
def run(tmp_path):
    return runfolder.read(write_run(tmp_path / "r", langs=("en", "fr", "zh", "es"), items=30, bootstrap=100))


def test_recognition_text_counts_paired_margins_over_the_surface_baselines(run):
    s = results.recognition_summary([run])
    cells = results.recognition_cells(run)
    text = report.recognition_text(s)
    assert f"in {int((cells.margin_lo > 0).sum())} of {len(cells)} (concept, language) cells" in text
    assert s.cells.sum() == len(cells) and "paired" in text


def test_without_replicates_the_prose_says_so_instead_of_printing_nan(tmp_path):
    r = runfolder.read(write_run(tmp_path / "r0", langs=("en", "fr", "zh"), bootstrap=0))
    langs = ["en", "fr", "zh"]
    texts = [report.recognition_text(results.recognition_summary([r])),
             report.table7_text(r.name, stats.table7(r, r.concepts, langs)),
             report.table8_text(r.name, stats.table8(r, r.concepts, langs)),
             report.transfer_text(r.name, stats.delta_table(r, r.concepts, langs), stats.asymmetry(r, r.concepts, langs)),
             report.consistency_text(results.consistency_by_depth(r, langs), r)]
    for t in texts:
        assert "nan" not in t.lower() and "--bootstrap 0" in t, t
    assert "no intervals (--bootstrap 0)" in report.protocol(r)


def test_table7_text_reads_the_paired_interval_of_column_1_minus_column_3():
    t7 = pd.DataFrame({"percent": [40.0, 10.0, 30.0, 20.0], "lo": [30.0, 5, 20, 10], "hi": [50.0, 15, 40, 30],
                       "count": [4, 1, 3, 2]}, index=["geq_and_transfer", "geq_and_no_transfer", "lt_and_transfer",
                                                      "lt_and_no_transfer"])
    t7.attrs["n_pairs"] = 10
    t7.attrs["col1_minus_col3"] = (10.0, 2.0, 18.0)  # the marginal intervals overlap, the paired one excludes 0
    assert "mostly from the better language" in report.table7_text("x", t7)
    t7.attrs["col1_minus_col3"] = (10.0, -3.0, 18.0)
    assert "do not say which dominates" in report.table7_text("x", t7)
    t7.attrs["col1_minus_col3"] = (-10.0, -18.0, -2.0)
    assert "mostly from the worse language" in report.table7_text("x", t7)


def test_table8_text_gives_counts_not_reduced_fractions(run):
    t8 = stats.table8(run, run.concepts, ["en", "fr", "zh", "es"])
    text = report.table8_text(run.name, t8)
    assert "of 3)" in text and "a count out of 3" in text and "moves it by 33%" in text


def test_transfer_text_states_what_chance_alone_gives(run):
    langs = ["en", "fr", "zh", "es"]
    text = report.transfer_text(run.name, stats.delta_table(run, run.concepts, langs), stats.asymmetry(r := run, r.concepts, langs))
    assert "of 12 ordered pairs" in text and "by chance alone: about 0)" in text  # 5% of 6 pairs
    assert "about 0 would land on each side" in text  # 2.5% of 12


def test_cross_concept_text_reports_the_share_of_the_own_margin_recovered():
    m = pd.DataFrame([[0.9, 0.7], [0.5, 0.8]], index=["a", "b"], columns=["a", "b"])
    # column a: b's vector at 0.5 recovers 0% of a's 0.4; column b: a's vector at 0.7 recovers 0.2 / 0.3
    text = report.cross_concept_text("x", m)
    assert f"{np.mean([0.0, 2 / 3]):.0%} of a concept's own margin" in text and "Well above one half" not in text


def test_paper_protocol_is_labelled_as_the_oracle(tmp_path):
    r = runfolder.read(write_run(tmp_path / "p", protocol="paper", bootstrap=20))
    assert results.layer_kinds(r) == [("oracle", "oracle layer, as the paper")]
    assert "oracle" in report.headline_layer([r]) and "without peeking" not in report.headline_layer([r])
    s = results.transfer_stack(r, "morality", ["en", "fr", "zh"])
    assert s["steps"][:2] == ["oracle", "1"] and np.isfinite(s["delta_lo"][0]).all()
    assert "25% of the items tested" in report.protocol(r)  # from the split itself
    assert report.control_text(r) == "" and not r.record.untrained
    r.record.model_source = "random-init"  # the untrained control of an embedded model
    assert r.record.untrained and "untrained control" in report.control_text(r)
