"""Analysis speed: from cached states, the point estimates of every language x 7 concepts x every layer (no
bootstrap): cross-validated transfer accuracy, the layer chosen by the inner cross-validation and the accuracy
there, AUC, and consistency. xlc's vectorised analysis against a plain per-pair, per-layer Python loop in the
paper's way (one mean-difference vector per fold, language and layer; one dot product per pair). Both give the
same numbers (checked).

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
    f, K = data.folds, len(data.tested)
    usable = data.present & ~data.tied  # pairs that train a vector (a tied pair's difference is 0)

    def vector(s, l, folds_out):
        rows = [i for i in range(N) if f[i] >= 0 and f[i] not in folds_out and usable[s, i]]
        return np.mean([data.pos[s, i, l] - data.neg[s, i, l] for i in rows], axis=0)

    def won(t, j, l, v):
        return not data.tied[t, j] and float(np.dot(data.pos[t, j, l], v)) > float(np.dot(data.neg[t, j, l], v))

    hits = np.zeros((S, S, K, L))
    inner = np.zeros((S, S, K, L))
    auc = np.zeros((S, S, L))
    for s in range(S):
        for l in range(L):
            fold_vectors = [vector(s, l, {k}) for k in range(K)]
            for t in range(S):
                pos_scores, neg_scores = [], []
                for j in range(N):
                    if data.present[t, j] and f[j] >= 0:
                        v = fold_vectors[f[j]]
                        hits[s, t, f[j], l] += won(t, j, l, v)
                        pos_scores.append(np.dot(data.neg[t, j, l], v) if data.tied[t, j] else np.dot(data.pos[t, j, l], v))
                        neg_scores.append(np.dot(data.neg[t, j, l], v))
                p, q = np.array(pos_scores)[:, None], np.array(neg_scores)[None, :]
                auc[s, t, l] = ((p > q) + 0.5 * (p == q)).mean()
            for k in range(K):  # the inner cross-validation of outer fold k
                for m in range(K):
                    if m != k:
                        v = vector(s, l, {k, m})
                        for t in range(S):
                            inner[s, t, k, l] += sum(won(t, j, l, v) for j in range(N) if f[j] == m and data.present[t, j])
    n = data.present.sum(1)
    accuracy = hits.sum(2) / n[None, :, None]
    pick = inner.argmax(3)  # the lowest layer on ties
    selected = np.take_along_axis(hits, pick[..., None], 3)[..., 0].sum(2) / n[None]
    cos = np.zeros((S, S, L))
    vectors = [[vector(s, l, set()) for l in range(L)] for s in range(S)]
    for s in range(S):
        for t in range(S):
            for l in range(L):
                u, w = vectors[s][l], vectors[t][l]
                cos[s, t, l] = float(np.dot(u, w) / (np.linalg.norm(u) * np.linalg.norm(w)))
    return accuracy, selected, auc, cos


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
    for r, (acc, sel, auc, cos) in zip(results, loops):
        np.testing.assert_allclose(r.accuracy[0], acc, atol=1e-9)
        np.testing.assert_allclose(r.selected[0], sel, atol=1e-9)
        np.testing.assert_allclose(r.auc, auc, atol=1e-3)  # a pair of texts scored within rounding of a tie
        np.testing.assert_allclose(r.cosine[0], cos, atol=1e-4)
    x, lp = statistics.median(xlc_s), statistics.median(loop_s)
    print(f"per-pair loop {lp:.2f} s, xlc {x:.2f} s (medians of {args.repeat}); the same accuracies, chosen layers, "
          "AUC and cosines")
    print(f"speedup={lp / x:.1f} seconds={x:.2f}")


if __name__ == "__main__":
    main()
