"""Intervals that hold: coverage on synthetic states with a planted direction, and the intervals of a run's
headline numbers (Tables 7 and 8, Delta, asymmetry) computed from its replicates."""

import numpy as np
import pytest
from fakerun import write_run
from scipy.stats import norm

from xlc import analysis as A
from xlc import data as D
from xlc import metrics, runfolder, stats


def test_intervals_cover_the_true_accuracy_in_95_percent_of_simulations():
    """400 synthetic data sets: 72 aligned items whose pair differences are mu * u plus unit Gaussian noise
    in 64 dimensions. The truth is the expected accuracy of a mean-difference vector fitted on the training
    share of the items (computed exactly per drawn vector, averaged over 20,000 draws)."""
    rng = np.random.default_rng(0)
    N, dim, mu, sims = 72, 64, 1.0, 400
    keys = [f"g|{i:02d}" for i in range(N)]
    folds = D.make_folds(keys, "x", 5)
    u = np.zeros(dim)
    u[0] = 1.0
    fitted = mu * u + rng.standard_normal((20000, dim)) / np.sqrt(N - N // 5)
    truth = norm.cdf(mu * fitted[:, 0] / np.linalg.norm(fitted, axis=1)).mean()
    covered = 0
    for i in range(sims):
        d = mu * u + rng.standard_normal((N, dim))
        base = rng.standard_normal((N, dim))
        states = {"en": np.concatenate([base + d / 2, base - d / 2])[:, None, :].astype(np.float32)}
        data = A.assemble("x", ["en"], {"en": keys}, states, {"en": np.zeros(N, bool)}, folds)
        r = A.analyse(data, n_boot=1000, chance_directions=0, seed=i)
        lo, hi = stats.interval(r.selected[1:, 0, 0])
        covered += lo <= truth <= hi
    coverage = covered / sims
    print(f"truth {truth:.3f}, coverage {coverage:.3f}")
    assert 0.93 <= coverage <= 0.97


def test_corrected_replicates_keep_the_sampling_and_add_the_shared_part():
    """Two halves of the tested items: each has its own sampling noise and its own borderline flips; only a
    refitted vector's being better or worse is shared. The correction keeps the sampling of the outcomes and
    adds the shared part alone, where the refitted replicates count the flips as well."""
    rng = np.random.default_rng(1)
    B = 20000
    sample_a, sample_b = 0.07 * rng.standard_normal((2, B))  # which items were drawn, per half
    vector = 0.04 * rng.standard_normal(B)  # shared by both halves
    flips_a, flips_b = 0.06 * rng.standard_normal((2, B))  # independent between halves
    fixed = 0.7 + (sample_a + sample_b) / 2
    half_a, half_b = 0.7 + sample_a + vector + flips_a, 0.7 + sample_b + vector + flips_b
    refit = (half_a + half_b) / 2
    out = stats.corrected_replicates(np.array(0.7), fixed, refit, half_a, half_b)
    assert out.mean() == pytest.approx(0.7, abs=1e-6)
    assert out.std() == pytest.approx(np.sqrt(fixed.var() + 0.04 ** 2), rel=0.03)
    assert out.std() < refit.std() * 0.95
    # nothing shared beyond the sampling: the outcomes' resampling alone
    none = stats.corrected_replicates(np.array(0.7), fixed, fixed + (flips_a + flips_b) / 2, 0.7 + sample_a + flips_a,
                                      0.7 + sample_b + flips_b)
    assert none.std() == pytest.approx(fixed.std(), rel=0.03)


@pytest.fixture
def run(tmp_path):
    return runfolder.read(write_run(tmp_path / "r", langs=("en", "fr", "zh", "es"), items=30, bootstrap=200))


def test_table7_and_table8_intervals_hold_the_point_estimates(run):
    langs = ["en", "fr", "zh", "es"]
    t7 = stats.table7(run, run.concepts, langs)
    point = metrics.table7(stats.point_matrix(run, run.concepts, langs), langs)
    assert list(t7.percent) == [point[k] for k in metrics.TABLE7] and t7.attrs["n_pairs"] == 12
    assert (t7.lo <= t7.percent + 1e-9).all() and (t7.percent <= t7.hi + 1e-9).all() and (t7.hi > t7.lo).any()
    d, lo, hi = t7.attrs["col1_minus_col3"]
    assert d == pytest.approx(t7.percent["geq_and_transfer"] - t7.percent["lt_and_transfer"])
    # paired: the interval of the difference, not the difference of the intervals
    assert lo <= d + 1e-9 <= hi + 2e-9 and hi - lo < (t7.hi - t7.lo)["geq_and_transfer"] + (t7.hi - t7.lo)["lt_and_transfer"]
    t8 = stats.table8(run, run.concepts, langs)
    assert list(t8.index) == langs + ["avg"]
    assert list(t8.others.iloc[:-1]) == [3, 3, 3, 3] and t8.effective.iloc[:-1].between(0, 3).all()
    assert np.allclose(t8.value.iloc[:-1], t8.effective.iloc[:-1].astype(float) / 3)
    assert stats.fraction_text(t8.effective["en"], t8.others["en"]) == f"{t8.effective['en']}/3"
    assert stats.fraction_text(t8.effective["avg"], t8.others["avg"]) == ""
    assert ((t8.lo <= t8.value + 1e-9) & (t8.value <= t8.hi + 1e-9)).all()
    oracle = stats.table8(run, run.concepts, langs, "oracle")
    assert (oracle.value >= 0).all()
    with pytest.raises(Exception, match="kind"):
        stats.table8(run, run.concepts, langs, "best")


def test_delta_and_asymmetry_from_replicates(run):
    langs = ["en", "fr", "zh"]
    d = stats.delta_table(run, run.concepts, langs)
    diag = d[d.source == d.target]
    assert (diag.delta == 0).all() and (diag.delta_lo == 0).all() and (diag.p_not_effective == 0).all()
    off = d[d.source != d.target]
    assert ((off.delta_lo <= off.delta + 1e-9) & (off.delta <= off.delta_hi + 1e-9)).all()
    a = stats.asymmetry(run, run.concepts, langs)
    assert len(a) == 3 and ((a.p >= 0) & (a.p <= 1)).all()
    row = a.iloc[0]
    assert row.difference == pytest.approx(row.delta_ab - row.delta_ba)
