"""Analysis speed: from cached states, the cross-validated transfer and consistency tables of every language x
7 concepts x every layer (point estimates, no bootstrap), xlc's vectorised analysis against a plain per-pair,
per-layer Python loop in the paper's way (one vector per fold, language and layer; one dot product per pair).
Both give the same accuracies and cosines (checked). xlc also chooses a layer by the inner cross-validation
and scores AUC in the same call, which the loop does not: the comparison is conservative.

usage: .venv/bin/python benchmarks/bench_analysis.py [--model e5-small] [--repeat 3]
Last line: speedup=X seconds=Y   (Y: xlc's seconds for all concepts)
"""

import argparse
import gc
import statistics
import time

import _common  # noqa: F401  (sets sys.path)
import numpy as np


def loop_tables(data):
    """The straightforward way: per fold, source and layer a mean difference; per pair one dot product."""
    S, N, L, _ = data.pos.shape
    f = data.folds
    hits = np.zeros((S, S, L))
    cos = np.zeros((S, S, L))
    for k in sorted(set(f[f >= 0].tolist())):
        for s in range(S):
            train = [i for i in range(N) if f[i] != k and f[i] >= 0 and data.present[s, i] and not data.tied[s, i]]
            for l in range(L):
                v = np.mean([data.pos[s, i, l] - data.neg[s, i, l] for i in train], axis=0)
                for t in range(S):
                    for j in range(N):
                        if f[j] == k and data.present[t, j] and not data.tied[t, j]:
                            if float(np.dot(data.pos[t, j, l], v)) > float(np.dot(data.neg[t, j, l], v)):
                                hits[s, t, l] += 1
    vectors = [[np.mean([data.pos[s, i, l] - data.neg[s, i, l] for i in range(N) if data.present[s, i]], axis=0)
                for l in range(L)] for s in range(S)]
    for s in range(S):
        for t in range(S):
            for l in range(L):
                u, w = vectors[s][l], vectors[t][l]
                cos[s, t, l] = float(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w)))
    return hits / data.present.sum(1)[None, :, None], cos


def timed(fn):
    gc.disable()
    try:
        t = time.perf_counter()
        out = fn()
        return time.perf_counter() - t, out
    finally:
        gc.enable()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved repetitions (default 3)")
    args = ap.parse_args()
    from xlc import analysis
    from xlc.runner import RunConfig, prepare

    plan = prepare(RunConfig(model=args.model, progress=False, log=None))
    datas = [plan.data(c)[0] for c in plan.concepts]
    S, N, L, D = datas[0].pos.shape
    print(f"{args.model}: {len(datas)} concepts x {S} languages x {N} items x {L} layers x {D} "
          f"({plan.counts['texts_forwarded']} texts forwarded)")
    xlc_s, loop_s = [], []
    for _ in range(args.repeat):  # interleaved, so drift in the machine's load hits both alike
        t, results = timed(lambda: [analysis.analyse(d, n_boot=0, chance_directions=0) for d in datas])
        xlc_s.append(t)
        t, loops = timed(lambda: [loop_tables(d) for d in datas])
        loop_s.append(t)
    for r, (acc, cos) in zip(results, loops):
        np.testing.assert_allclose(r.accuracy[0], acc, atol=1e-9)
        np.testing.assert_allclose(r.cosine[0], cos, atol=1e-4)
    x, lp = statistics.median(xlc_s), statistics.median(loop_s)
    print(f"per-pair loop {lp:.2f} s, xlc {x:.2f} s (medians of {args.repeat}); the same accuracies and cosines")
    print(f"speedup={lp / x:.1f} seconds={x:.2f}")


if __name__ == "__main__":
    main()
