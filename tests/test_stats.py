import numpy as np
import pandas as pd

from xlc import metrics
from xlc.stats import bootstrap_transfer, load_outcomes, transfer_intervals


def test_bootstrap_is_centred_on_the_accuracy_and_ignores_padding():
    rng = np.random.default_rng(0)
    correct = rng.random((2, 2, 40, 3)) < 0.7
    n_test = np.array([40, 25])
    correct[:, 1, 25:] = True  # padding: must not count
    reps = bootstrap_transfer(correct, n_test, n_boot=2000, seed=1)
    assert reps.shape == (2000, 2, 2, 3)
    full = np.stack([correct[:, 0, :40].mean(1), correct[:, 1, :25].mean(1)], 1)
    np.testing.assert_allclose(reps.mean(0), full, atol=0.01)
    # the spread shrinks like 1/sqrt(n): the 25-item target varies more
    assert reps[:, :, 1].std(0).mean() > reps[:, :, 0].std(0).mean()


def test_intervals_from_a_run_cover_the_table_values(tiny_dirs, dataset, tmp_path):
    from xlc.runner import RunConfig, run

    out = run(RunConfig(model=str(tiny_dirs["llama"]), data=str(dataset), out=str(tmp_path / "r"), progress=False,
                        log=None, baseline_directions=0))
    o = load_outcomes(out)
    assert set(o) == {"morality", "deontology", "truthfulness"}
    iv = transfer_intervals(out, n_boot=300)
    best = metrics.best_layer(pd.read_csv(out / "transfer.csv"))
    merged = iv.merge(best, on=["concept", "source", "target"], suffixes=("", "_table"))
    assert len(merged) == len(best) == 27
    np.testing.assert_allclose(merged.accuracy, merged.accuracy_table)
    assert (merged.layer == merged.layer_table).all()
    assert ((iv.accuracy_lo <= iv.accuracy) & (iv.accuracy <= iv.accuracy_hi)).all()
    diag = iv[iv.source == iv.target]
    assert (diag.delta == 0).all() and (diag.delta_lo == 0).all() and (diag.p_delta_negative == 0).all()
