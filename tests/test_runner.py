"""xlc run end to end on tiny models: every concept-vector method, the tokenizer's chat template, and results
that depend neither on batch composition nor on the cache (pairs with identical tokens are exact ties)."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from conftest import write_dataset

from xlc import runfolder
from xlc.runner import RunConfig, run


@pytest.mark.parametrize("method", ["pca", "logreg", "random"])
def test_every_method_through_the_runner(tiny_dirs, dataset, tmp_path, method):
    out = run(RunConfig(model=str(tiny_dirs["qwen2"]), data=str(dataset), concepts=["morality"], langs=["en", "fr"],
                        method=method, out=str(tmp_path / method), progress=False, log=None, bootstrap=10,
                        chance_directions=2))
    r = runfolder.read(out)
    assert r.record.method == method and not r.record.bootstrap_refit  # vectors fitted once per fold
    t = r.transfer
    assert len(t) == 2 * 2 * 2 and t.accuracy.between(0, 1).all() and t.accuracy_lo.notna().all()
    assert r.consistency.cosine_lo.isna().all()  # no refitted vectors: no consistency interval
    assert r.vectors("morality", "fr").shape == (2, 32)


def test_chat_template_reads_the_tokenizers_own_template(tiny_dirs, dataset, tmp_path):
    from transformers import AutoTokenizer

    folder = tmp_path / "chatty"
    shutil.copytree(tiny_dirs["llama"], folder)
    tok = AutoTokenizer.from_pretrained(folder)
    tok.chat_template = "{% for m in messages %}<|user|>{{ m['content'] }}{% endfor %}<|assistant|>"
    tok.save_pretrained(folder)
    cfg = dict(model=str(folder), data=str(dataset), concepts=["morality"], langs=["en"], progress=False, log=None,
               bootstrap=0, chance_directions=0)
    chat = runfolder.read(run(RunConfig(template="chat", out=str(tmp_path / "chat"), **cfg)))
    assert chat.record.template == "<|user|>{input}<|assistant|>" and chat.record.template_name == "chat"
    literal = runfolder.read(run(RunConfig(template="<|user|>{input}<|assistant|>", out=str(tmp_path / "lit"), **cfg)))
    assert literal.record.counts["cache_hits"] == 1  # the same texts through the same model: served from the cache
    assert (chat.transfer.accuracy == literal.transfer.accuracy).all()
    raw = runfolder.read(run(RunConfig(out=str(tmp_path / "raw"), **cfg)))
    assert raw.record.counts["cache_hits"] == 0 and raw.record.template == "{input}"
    with pytest.raises(Exception, match="no chat template"):
        run(RunConfig(model=str(tiny_dirs["gpt2"]), template="chat", out=str(tmp_path / "x"),
                      **{k: v for k, v in cfg.items() if k != "model"}))


def test_identical_tokens_are_ties_and_results_do_not_depend_on_batches_or_the_cache(tmp_path, monkeypatch):
    """MiniLM is uncased: a pair whose texts differ only in case gives the same tokens. Such pairs are exact
    ties (one half, at every layer) whatever the batch, and a run that takes some languages from the cache
    (other batch composition) writes the same tables as a cold one."""
    data = write_dataset(tmp_path / "data", concepts=("morality",), langs=("en", "fr"), n=20)
    path = data / "morality" / "morality_en.json"
    raw = json.loads(path.read_text())
    for key in ("00", "04", "08"):
        g = f"g{int(key) % 3}"
        raw[g][key]["neg"] = raw[g][key]["pos"].upper()
    path.write_text(json.dumps(raw))
    cfg = dict(model="minilm", data=str(data), progress=False, log=None, bootstrap=20, chance_directions=2,
               batch_size=5)
    cold = runfolder.read(run(RunConfig(out=str(tmp_path / "cold"), **cfg)))
    assert cold.record.tied_pairs == {"morality": {"en": 3}}
    with np.load(cold.path / "outcomes.npz") as z:
        keys = list(z["morality/keys"])
        outcome = z["morality/outcome"]
    for key in ("g0|00", "g1|04", "g2|08"):
        assert (outcome[:, 0, keys.index(key)] == 0.5).all()  # target en: a tie at every layer, from every source
    # take French from the cache and forward English (with its tied pairs) alone, in other batches
    entries = sorted((tmp_path / "xlc-cache" / "activations").rglob("*.json"))
    en = [e for e in entries if json.loads(e.read_text())["lang"] == "en"]
    en[0].unlink()
    warm = runfolder.read(run(RunConfig(out=str(tmp_path / "warm"), **dict(cfg, batch_size=3))))
    assert warm.record.counts["cache_hits"] == 1 and warm.record.counts["cache_misses"] == 1
    for name in ("transfer", "selected", "baseline"):
        a, b = pd.read_csv(cold.path / f"{name}.csv"), pd.read_csv(warm.path / f"{name}.csv")
        pd.testing.assert_frame_equal(a, b, atol=1e-6)
