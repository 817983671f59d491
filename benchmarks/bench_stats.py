"""Cross-validation and 1,000 bootstrap replicates with the vectors refitted, from cached states: 16 languages x
7 concepts x every layer of multilingual-e5-small (12 layers, 384 wide), as `xlc run` computes them, against a
plain loop over the replicates that refits every vector explicitly.

The loop is timed on a few replicates and its time per replicate scaled to the same number (printed as such);
on those replicates both give the same refitted accuracies (checked), and the point estimates agree.

usage: .venv/bin/python benchmarks/bench_stats.py [--model e5-small] [--replicates 1000] [--loop 10]
Last line: seconds=X loop_seconds=Y   (Y: the loop's time scaled to the same number of replicates)
"""

import argparse
import time
import zlib

import _common  # noqa: F401  (sets sys.path)
import numpy as np


def loop_refit(data, weights):
    """Refitted accuracies [B, S, T, L] the plain way: for every replicate, fold and language, the weighted mean
    training difference, then every target item of the fold projected on it."""
    S, N, L, _ = data.pos.shape
    d, f, present = data.diffs, data.folds, data.present
    out = np.zeros((weights.shape[1], S, S, L))
    for b in range(weights.shape[1]):
        w = weights[:, b]
        hits = np.zeros((S, S, L))
        for k in np.unique(f[f >= 0]):
            train, test = (f != k) & (f >= 0), f == k
            v = np.einsum("n,snld->sld", w * train, d)  # [S, L, D], up to the positive factor 1 / sum(w)
            scores = np.einsum("tnld,sld->stnl", d[:, test], v)  # [S, T, n_k, L]
            hits += np.einsum("stnl,tn->stl", (scores > 0).astype(float), present[:, test] * w[test])
        out[b] = hits / (present * w[None]).sum(1)[None, :, None]
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="e5-small")
    ap.add_argument("--replicates", type=int, default=1000)
    ap.add_argument("--loop", type=int, default=10, help="replicates the plain loop is timed on (default 10)")
    args = ap.parse_args()
    from xlc import analysis, stats
    from xlc.runner import RunConfig, prepare

    plan = prepare(RunConfig(model=args.model, progress=False, log=None))
    t = time.perf_counter()
    datas = [plan.data(c)[0] for c in plan.concepts]
    S, N, L, D = datas[0].pos.shape
    print(f"{args.model}: states of {len(datas)} concepts x {S} languages x {N} items x {L} layers x {D} from the cache "
          f"in {time.perf_counter() - t:.1f} s ({plan.counts['texts_forwarded']} texts forwarded)")
    captured = []
    real = stats.corrected_replicates
    stats.corrected_replicates = lambda *a: captured.append(a) or real(*a)
    t = time.perf_counter()
    results = [analysis.analyse(d, n_boot=args.replicates, chance_directions=0, seed=0) for d in datas]
    seconds = time.perf_counter() - t
    stats.corrected_replicates = real
    print(f"xlc: cross-validation, the inner layer choice and {args.replicates} refitted replicates: {seconds:.1f} s")

    t = time.perf_counter()
    differ = total = 0
    for d, r, cap in zip(datas, results, captured[::2]):
        rng = np.random.default_rng([0, zlib.crc32(("bootstrap/" + d.concept).encode())])
        idx = np.flatnonzero(d.folds >= 0)
        W = np.zeros((N, args.replicates), dtype=np.float32)
        W[idx] = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=args.replicates).T
        ones = np.ones((N, 1))
        np.testing.assert_allclose(loop_refit(d, ones)[0], r.accuracy[0], atol=1e-6)
        refit = loop_refit(d, W[:, :args.loop])
        # float32 Gram products against float64 loops: a pair whose score is within rounding of 0 may flip
        differ += int((np.abs(refit - cap[2][:args.loop]) > 1e-6).sum())
        total += refit.size
    loop = (time.perf_counter() - t) / (args.loop + 1) * args.replicates
    assert differ <= 0.001 * total, (differ, total)
    print(f"plain loop over replicates: {loop / args.replicates:.2f} s per replicate (timed on {args.loop} and the "
          f"point estimate), {loop:.0f} s for {args.replicates}; the same refitted accuracies in {total - differ} of "
          f"{total} cells (the others: a pair scored within float32 rounding of 0)")
    print(f"seconds={seconds:.1f} loop_seconds={loop:.0f}")


if __name__ == "__main__":
    main()
