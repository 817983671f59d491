"""Analysis speed: from cached activations, the full transfer and consistency tables (all languages
x 7 concepts x all layers), xlc's vectorised code against a plain per-pair, per-layer Python loop
as in the paper's code. Both produce the same numbers (checked).

usage: .venv/bin/python benchmarks/bench_analysis.py [--model minilm] [--repeat 5] [--calls 10]
Last line: speedup=X seconds=Y   (Y: xlc's seconds for all concepts)
"""

import argparse
import gc
import statistics
import time

import numpy as np
import pandas as pd
from _common import median_time  # noqa: F401  (sets sys.path)


def loop_tables(concept, pairsets, states, split):
    """The straightforward way: per source, layer and pair, one dot product at a time."""
    langs = list(pairsets)
    vec, tests = {}, {}
    for lang in langs:
        ps, st = pairsets[lang], states[lang]
        n = len(ps)
        index = {k: i for i, k in enumerate(ps.keys)}
        tr = [index[k] for k in split.train if k in index]
        te = [index[k] for k in split.test if k in index]
        layers = st.shape[1]
        vec[lang] = [st[tr, l].mean(0) - st[[n + i for i in tr], l].mean(0) for l in range(layers)]
        tests[lang] = [(st[i], st[n + i]) for i in te]
    rows_t, rows_c = [], []
    for s in langs:
        for t in langs:
            for l in range(len(vec[s])):
                v = vec[s][l]
                hits = 0
                for pos, neg in tests[t]:
                    if float(np.dot(pos[l], v)) > float(np.dot(neg[l], v)):
                        hits += 1
                rows_t.append((concept, s, t, l + 1, hits / len(tests[t]), len(tests[t])))
                u, w = vec[s][l], vec[t][l]
                rows_c.append((concept, s, t, l + 1, float(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w)))))
    return (pd.DataFrame(rows_t, columns=["concept", "source", "target", "layer", "accuracy", "n_test"]),
            pd.DataFrame(rows_c, columns=["concept", "source", "target", "layer", "cosine"]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="minilm")
    ap.add_argument("--repeat", type=int, default=5, help="interleaved repetitions (default 5)")
    ap.add_argument("--calls", type=int, default=10, help="xlc calls per repetition (default 10)")
    args = ap.parse_args()
    from xlc.analysis import analyse_concept, tables
    from xlc.runner import RunConfig, prepare

    plan = prepare(RunConfig(model=args.model, progress=False, log=None))
    t = time.perf_counter()
    states = {c: plan.states(c) for c in plan.concepts}
    print(f"states for {len(plan.concepts)} concepts: {time.perf_counter() - t:.1f} s "
          f"({plan.counts['cache_hits']} cache hits, {plan.counts['texts_forwarded']} texts forwarded)")

    def fast():
        return tables([analyse_concept(c, plan.pairs[c], states[c], plan.splits[c], baseline_directions=0,
                                       diff_sums=plan.diff_sums[c]) for c in plan.concepts])

    def slow():
        return [loop_tables(c, plan.pairs[c], states[c], plan.splits[c]) for c in plan.concepts]

    a, b = fast(), slow()  # agreement, and warm-up
    loop_t = pd.concat([t for t, _ in b], ignore_index=True)
    loop_c = pd.concat([c for _, c in b], ignore_index=True)
    assert (a["transfer"][["concept", "source", "target", "layer"]].to_numpy() ==
            loop_t[["concept", "source", "target", "layer"]].to_numpy()).all()
    assert np.abs(a["transfer"].accuracy.to_numpy() - loop_t.accuracy.to_numpy()).max() < 1e-9
    assert np.abs(a["consistency"].cosine.to_numpy() - loop_c.cosine.to_numpy()).max() < 1e-4
    # interleaved repetitions: the loop once, then xlc --calls times (a 10 ms call timed once is noise);
    # medians of each. xlc's first call after each loop (states evicted from the CPU caches) is printed too.
    # the garbage collector is off while timing, as timeit does: a full collection triggered by one side's
    # allocations would otherwise be charged to whichever side happens to be running
    t_fast, t_slow, t_first = [], [], []
    gc.collect()
    gc.disable()
    for _ in range(args.repeat):
        t_slow.append(median_time(slow, 1))
        calls = [median_time(fast, 1) for _ in range(args.calls)]
        t_first.append(calls[0])
        t_fast += calls
    gc.enable()
    fast_s, slow_s = statistics.median(t_fast), statistics.median(t_slow)
    first_s = statistics.median(t_first)
    n_rows = len(a["transfer"])
    langs = sorted({l for c in plan.concepts for l in plan.langs_for[c]})
    print(f"{len(langs)} languages x {len(plan.concepts)} concepts x {a['transfer'].layer.max()} layers: "
          f"{n_rows} transfer rows + {n_rows} consistency rows")
    print(f"per-pair loop: median {slow_s:.3f} s of {len(t_slow)} (min {min(t_slow):.3f}, max {max(t_slow):.3f})")
    print(f"xlc: median {fast_s * 1e3:.1f} ms of {len(t_fast)} calls (min {min(t_fast) * 1e3:.1f}, "
          f"max {max(t_fast) * 1e3:.1f}); first call after each loop: median {first_s * 1e3:.1f} ms "
          f"(speedup {slow_s / first_s:.1f})")
    print(f"speedup={slow_s / fast_s:.1f} seconds={fast_s:.4f}")


if __name__ == "__main__":
    main()
