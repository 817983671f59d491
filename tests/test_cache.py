import numpy as np
import pytest

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

    cfg = dict(model=str(tiny_dirs["qwen2"]), data=str(dataset), progress=False, log=None, baseline_directions=2)
    first = run(RunConfig(out=str(tmp_path / "a"), **cfg))
    rec1 = json.loads((first / "run.json").read_text())
    assert rec1["counts"]["texts_forwarded"] > 0 and rec1["counts"]["cache_hits"] == 0
    second = run(RunConfig(out=str(tmp_path / "b"), **cfg))
    rec2 = json.loads((second / "run.json").read_text())
    assert rec2["counts"]["texts_forwarded"] == 0 and rec2["counts"]["cache_hits"] == rec1["counts"]["cache_misses"]
    assert (first / "transfer.csv").read_text() == (second / "transfer.csv").read_text()
    # a change of token rule or template is a different key: never served stale states
    third = run(RunConfig(out=str(tmp_path / "c"), token="mean", **cfg))
    assert json.loads((third / "run.json").read_text())["counts"]["cache_hits"] == 0
    fourth = run(RunConfig(out=str(tmp_path / "d"), template="Q: {input}", **cfg))
    assert json.loads((fourth / "run.json").read_text())["counts"]["cache_hits"] == 0
    # editing one text of one file misses only that (concept, language)
    path = dataset / "morality" / "morality_fr.json"
    raw = json.loads(path.read_text())
    raw["g0"]["00"]["pos"] += " encore"
    path.write_text(json.dumps(raw, ensure_ascii=False))
    fifth = run(RunConfig(out=str(tmp_path / "e"), **cfg))
    rec5 = json.loads((fifth / "run.json").read_text())
    assert rec5["counts"]["cache_misses"] == 1 and rec5["counts"]["texts_forwarded"] == 40


def test_changed_weights_miss(tiny_dirs, dataset, tmp_path):
    import json
    import shutil

    from xlc.testing import save_tiny

    folder = tmp_path / "m"
    shutil.copytree(tiny_dirs["llama"], folder)
    cfg = dict(model=str(folder), data=str(dataset), progress=False, log=None, baseline_directions=0,
               concepts=["morality"], langs=["en"])
    run(RunConfig(out=str(tmp_path / "a"), **cfg))
    save_tiny("llama", folder, seed=1)  # same files, other weights
    rec = json.loads((run(RunConfig(out=str(tmp_path / "b"), **cfg)) / "run.json").read_text())
    assert rec["counts"]["cache_hits"] == 0


def test_cached_difference_sums_give_the_same_results(tiny_dirs, dataset, tmp_path):
    """The warm path (mean training difference from the cached sum) equals the direct computation."""
    from xlc.analysis import analyse_concept
    from xlc.runner import prepare

    plan = prepare(RunConfig(model=str(tiny_dirs["llama"]), data=str(dataset), progress=False, log=None))
    for c in plan.concepts:
        states = plan.states(c)
        assert set(plan.diff_sums[c]) == set(states)
        fast = analyse_concept(c, plan.pairs[c], states, plan.splits[c], baseline_directions=0,
                               diff_sums=plan.diff_sums[c])
        direct = analyse_concept(c, plan.pairs[c], states, plan.splits[c], baseline_directions=0)
        np.testing.assert_allclose(fast.vectors, direct.vectors, rtol=1e-4, atol=1e-6)
        np.testing.assert_array_equal(fast.accuracy, direct.accuracy)
        # a wrong sum would show: the shortcut is really used
        wrong = {l: v + 1.0 for l, v in plan.diff_sums[c].items()}
        off = analyse_concept(c, plan.pairs[c], states, plan.splits[c], baseline_directions=0, diff_sums=wrong)
        assert not np.allclose(off.vectors, direct.vectors)


def _assert_block_views(states):
    """Every language's array is its row of the block, holding the same numbers."""
    assert states.block is not None
    for s, (lang, arr) in enumerate(states.items()):
        assert np.shares_memory(arr, states.block) and np.array_equal(arr, states.block[s]), lang


def test_states_block_cold_warm_and_partial(tiny_dirs, dataset, tmp_path):
    """A concept's states are one block whether they come from one forward pass (cold), from the cache
    (warm) or from both (one entry missing); the numbers are the same, and the analysis gives the same
    result from the block as from separate per-language arrays."""
    from xlc.analysis import analyse_concept
    from xlc.runner import prepare

    cfg = RunConfig(model=str(tiny_dirs["gpt2"]), data=str(dataset), concepts=["morality"], progress=False, log=None)
    cold = prepare(cfg).states("morality")
    _assert_block_views(cold)
    plan = prepare(cfg)
    warm = plan.states("morality")
    assert plan.counts["texts_forwarded"] == 0
    _assert_block_views(warm)
    np.testing.assert_allclose(warm.block, cold.block, rtol=0, atol=0)
    entry = ActivationCache(tmp_path / "xlc-cache" / "activations")
    victims = sorted(entry.root.rglob("*.json"))
    victims[0].unlink()  # one (concept, language) entry gone
    plan = prepare(cfg)
    partial = plan.states("morality")
    assert plan.counts["cache_misses"] == 1 and plan.counts["cache_hits"] == len(partial) - 1
    _assert_block_views(partial)
    np.testing.assert_allclose(partial.block, cold.block, rtol=1e-5, atol=1e-6)
    split, pairs = plan.splits["morality"], plan.pairs["morality"]
    from_block = analyse_concept("morality", pairs, partial, split, diff_sums=plan.diff_sums["morality"])
    from_dict = analyse_concept("morality", pairs, {l: a.copy() for l, a in partial.items()}, split,
                                diff_sums=plan.diff_sums["morality"])
    np.testing.assert_array_equal(from_block.accuracy, from_dict.accuracy)
    np.testing.assert_array_equal(from_block.correct, from_dict.correct)
    np.testing.assert_allclose(from_block.vectors, from_dict.vectors, rtol=0, atol=0)
    np.testing.assert_allclose(from_block.cosine, from_dict.cosine, rtol=0, atol=0)


def test_states_without_a_block_when_languages_differ_in_size(tiny_dirs, dataset):
    """Non-parallel data (one language with an extra item) is served as separate arrays, no block."""
    import json

    from xlc.runner import prepare

    path = dataset / "morality" / "morality_fr.json"
    raw = json.loads(path.read_text())
    raw["g0"]["extra"] = {"pos": "Une phrase de plus.", "neg": "Une autre phrase de plus."}
    path.write_text(json.dumps(raw, ensure_ascii=False))
    plan = prepare(RunConfig(model=str(tiny_dirs["gpt2"]), data=str(dataset), concepts=["morality"],
                             progress=False, log=None))
    states = plan.states("morality")
    assert states.block is None
    assert len(states["fr"]) == len(states["en"]) + 2


def test_another_split_reuses_the_cache_in_file_order(tiny_dirs, dataset, tmp_path, monkeypatch):
    """Entries are stored in the file's order, so a run with another split (seed) is served from the
    cache, and gives what a run with that split on an empty cache gives."""
    import json

    cfg = dict(model=str(tiny_dirs["llama"]), data=str(dataset), progress=False, log=None, baseline_directions=0,
               concepts=["morality", "deontology"])
    run(RunConfig(out=str(tmp_path / "seed0"), seed=0, **cfg))
    warm = run(RunConfig(out=str(tmp_path / "seed1-warm"), seed=1, **cfg))
    rec = json.loads((warm / "run.json").read_text())
    assert rec["counts"]["texts_forwarded"] == 0 and rec["counts"]["cache_misses"] == 0
    monkeypatch.setenv("XLC_CACHE", str(tmp_path / "other-cache"))
    cold = run(RunConfig(out=str(tmp_path / "seed1-cold"), seed=1, **cfg))
    assert json.loads((cold / "run.json").read_text())["counts"]["cache_hits"] == 0
    assert (warm / "split.json").read_text() == (cold / "split.json").read_text()
    import pandas as pd

    a, b = pd.read_csv(warm / "transfer.csv"), pd.read_csv(cold / "transfer.csv")
    assert (a.accuracy.to_numpy() == b.accuracy.to_numpy()).all()
    ca, cb = pd.read_csv(warm / "consistency.csv"), pd.read_csv(cold / "consistency.csv")
    np.testing.assert_allclose(ca.cosine.to_numpy(), cb.cosine.to_numpy(), atol=1e-5)


def test_read_into_scatters_rows_and_rejects_damage(tmp_path):
    cache = ActivationCache(tmp_path)
    key = cache.key({"model": "m"}, ["t"])
    states = np.arange(5 * 2 * 3, dtype=np.float32).reshape(5, 2, 3)
    cache.put(key, states, extras={"pair_diff_sum": np.ones((2, 3))})
    order = np.array([3, 0, 4, 1, 2])  # file row i -> row order[i]
    out, extras = cache.read_into(key, lambda shape: np.zeros(shape, dtype=np.float32), order)
    for i, row in enumerate(order):
        np.testing.assert_array_equal(out[row], states[i])
    np.testing.assert_array_equal(extras["pair_diff_sum"], np.ones((2, 3)))
    # into a row of a bigger block, no reordering
    block = np.zeros((2,) + states.shape, dtype=np.float32)
    got, _ = cache.read_into(key, lambda shape: block[1])
    assert np.shares_memory(got, block) and np.array_equal(block[1], states) and not block[0].any()
    # a destination may decline; a bad destination or order is the caller's error, said plainly
    assert cache.read_into(key, lambda shape: None) is None
    with pytest.raises(ValueError, match="order"):
        cache.read_into(key, lambda shape: np.zeros(shape, dtype=np.float32), np.array([0, 0, 1, 2, 3]))
    with pytest.raises(ValueError, match="destination"):
        cache.read_into(key, lambda shape: np.zeros(shape, dtype=np.float64))
    # a truncated file, or a header that does not fit, is a miss
    tensors = next(tmp_path.rglob("*.safetensors"))
    whole = tensors.read_bytes()
    tensors.write_bytes(whole[:-7])
    assert cache.get(key) is None
    tensors.write_bytes(whole[:8] + b"[" + whole[9:])  # not a header object
    assert cache.get(key) is None
    tensors.write_bytes(whole.replace(b'"F32"', b'"F16"', 1))  # a dtype whose size does not fit the offsets
    assert cache.get(key) is None
    tensors.write_bytes(b"")
    assert cache.get(key) is None
    tensors.write_bytes(whole)
    np.testing.assert_array_equal(cache.get(key), states)


def test_read_into_without_scattering_reads(tmp_path, monkeypatch):
    """Systems without preadv (macOS before 3.11's support, Windows) read and reorder in one copy."""
    import os

    cache = ActivationCache(tmp_path)
    key = cache.key({"model": "m"}, ["t"])
    states = np.random.default_rng(0).normal(size=(6, 2, 4)).astype(np.float32)
    cache.put(key, states, extras={"pair_diff_sum": np.zeros((2, 4))})
    order = np.array([5, 2, 0, 1, 4, 3])
    with_preadv, _ = cache.read_into(key, lambda shape: np.empty(shape, dtype=np.float32), order)
    monkeypatch.delattr(os, "preadv")
    without, _ = cache.read_into(key, lambda shape: np.empty(shape, dtype=np.float32), order)
    np.testing.assert_array_equal(with_preadv, without)
    np.testing.assert_array_equal(without[order], states)
