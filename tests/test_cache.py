import numpy as np
from conftest import record

from xlc.cache import ActivationCache
from xlc.runner import RunConfig, run


def test_cache_hit_miss_and_damage(tmp_path):
    cache = ActivationCache(tmp_path)
    ident = {"model": "m", "template": "{input}"}
    key = cache.key(ident, ["a", "b"])
    assert cache.get(key) is None
    states = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    cache.put(key, states, {"n": 2})
    np.testing.assert_array_equal(cache.get(key), states)
    assert cache.key(ident, ["a", "c"]) != key
    assert cache.key(ident, ["b", "a"]) != key
    assert cache.key(dict(ident, template="[INST] {input}"), ["a", "b"]) != key
    tensors = next(tmp_path.rglob("*.safetensors"))
    tensors.write_bytes(b"garbage")
    assert cache.get(key) is None  # a damaged entry is a miss, never an error or stale data
    assert not list(tmp_path.rglob("*.tmp"))


def test_second_run_does_no_forward_pass_and_changes_miss(tiny_dirs, dataset, tmp_path):
    import json

    cfg = dict(model=str(tiny_dirs["qwen2"]), data=str(dataset), progress=False, log=None, chance_directions=2, bootstrap=5)
    first = run(RunConfig(out=str(tmp_path / "a"), **cfg))
    rec1 = record(first)
    assert rec1["counts"]["texts_forwarded"] > 0 and rec1["counts"]["cache_hits"] == 0
    second = run(RunConfig(out=str(tmp_path / "b"), **cfg))
    rec2 = record(second)
    assert rec2["counts"]["texts_forwarded"] == 0 and rec2["counts"]["cache_hits"] == rec1["counts"]["cache_misses"]
    assert (first / "transfer.csv").read_text() == (second / "transfer.csv").read_text()
    # a change of token rule or template is a different key: never served stale states
    third = run(RunConfig(out=str(tmp_path / "c"), token="mean", **cfg))
    assert record(third)["counts"]["cache_hits"] == 0
    fourth = run(RunConfig(out=str(tmp_path / "d"), template="Q: {input}", **cfg))
    assert record(fourth)["counts"]["cache_hits"] == 0
    # editing one text of one file misses only that (concept, language)
    path = dataset / "morality" / "morality_fr.json"
    raw = json.loads(path.read_text())
    raw["g0"]["00"]["pos"] += " encore"
    path.write_text(json.dumps(raw, ensure_ascii=False))
    fifth = run(RunConfig(out=str(tmp_path / "e"), **cfg))
    rec5 = record(fifth)
    assert rec5["counts"]["cache_misses"] == 1 and rec5["counts"]["texts_forwarded"] == 40


def test_changed_weights_miss(tiny_dirs, dataset, tmp_path):
    import shutil

    from xlc.testing import save_tiny

    folder = tmp_path / "m"
    shutil.copytree(tiny_dirs["llama"], folder)
    cfg = dict(model=str(folder), data=str(dataset), progress=False, log=None, chance_directions=0, bootstrap=0,
               concepts=["morality"], langs=["en"])
    run(RunConfig(out=str(tmp_path / "a"), **cfg))
    save_tiny("llama", folder, seed=1)  # same files, other weights
    rec = record(run(RunConfig(out=str(tmp_path / "b"), **cfg)))
    assert rec["counts"]["cache_hits"] == 0


def test_another_split_reuses_the_cache(tiny_dirs, dataset, tmp_path, monkeypatch):
    """Entries hold each file's texts in the file's order, so a run with other folds (seed) or the paper's
    split is served from the cache, and gives what the same run on an empty cache gives."""

    import pandas as pd

    cfg = dict(model=str(tiny_dirs["llama"]), data=str(dataset), progress=False, log=None, chance_directions=0,
               concepts=["morality", "deontology"], bootstrap=5)
    run(RunConfig(out=str(tmp_path / "seed0"), seed=0, **cfg))
    warm = run(RunConfig(out=str(tmp_path / "seed1-warm"), seed=1, protocol="paper", **cfg))
    rec = record(warm)
    assert rec["counts"]["texts_forwarded"] == 0 and rec["counts"]["cache_misses"] == 0
    monkeypatch.setenv("XLC_CACHE", str(tmp_path / "other-cache"))
    cold = run(RunConfig(out=str(tmp_path / "seed1-cold"), seed=1, protocol="paper", **cfg))
    assert record(cold)["counts"]["cache_hits"] == 0
    assert (warm / "split.json").read_text() == (cold / "split.json").read_text()
    a, b = pd.read_csv(warm / "transfer.csv"), pd.read_csv(cold / "transfer.csv")
    assert (a.accuracy.to_numpy() == b.accuracy.to_numpy()).all()
    ca, cb = pd.read_csv(warm / "consistency.csv"), pd.read_csv(cold / "consistency.csv")
    np.testing.assert_allclose(ca.cosine.to_numpy(), cb.cosine.to_numpy(), atol=1e-5)


def test_damaged_or_foreign_entries_are_misses(tmp_path):
    cache = ActivationCache(tmp_path)
    key = cache.key({"model": "m"}, ["t"])
    states = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    cache.put(key, states)
    tensors, manifest = next(tmp_path.rglob("*.safetensors")), next(tmp_path.rglob("*.json"))
    whole, info = tensors.read_bytes(), manifest.read_text()
    for broken in (whole[:-7], whole[:8] + b"[" + whole[9:], b""):  # truncated, not a header, empty
        tensors.write_bytes(broken)
        assert cache.get(key) is None
    tensors.write_bytes(whole)
    manifest.write_text(info.replace('"shape": [', '"shape": [9, '))  # the array is not what the manifest says
    assert cache.get(key) is None
    manifest.write_text(info.replace(key, "0" * 64))  # an entry of another key
    assert cache.get(key) is None
    manifest.write_text(info)
    np.testing.assert_array_equal(cache.get(key), states)
