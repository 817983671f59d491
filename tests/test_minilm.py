"""The embedded English model reads the bundled English contrasts (minimal pairs without length or marker-word
cues): recognition at least 0.75 on 5 of the 7 concepts, about 0.85 on average at the paper's best layer, and the
layer chosen without peeking stays well above the random directions."""


import pandas as pd
from conftest import record

from xlc.runner import RunConfig, run


def test_minilm_recognises_the_english_concepts(tmp_path):
    out = run(RunConfig(model="minilm", langs=["en"], out=str(tmp_path / "run"), progress=False, log=None,
                        chance_directions=8, bootstrap=50))
    selected = pd.read_csv(out / "selected.csv")
    print(selected[["concept", "accuracy", "oracle_layer", "oracle_accuracy"]].to_string())
    assert (selected.oracle_accuracy >= 0.75).sum() >= 5 and selected.oracle_accuracy.mean() >= 0.8
    assert selected.accuracy.mean() > 0.75 and (selected.accuracy <= selected.oracle_accuracy + 1e-9).all()
    base = pd.read_csv(out / "baseline.csv")
    # the learned directions beat random directions by a wide margin
    assert selected.accuracy.mean() > base.groupby("concept").accuracy.max().mean() + 0.1
    rec = record(out)
    assert rec["num_layers"] == 6 and rec["hidden_size"] == 384 and rec["token"] == "last"
    assert rec["unk_share"]["en"] < 0.01 and rec["model_caveats"]
