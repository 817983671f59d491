"""Extraction throughput for each embedded model: xlc against a naive baseline written the way the paper's code
works, and the achieved forward-pass FLOP/s against this machine's dense matmul FLOP/s.

usage: .venv/bin/python benchmarks/bench_extract.py [--models minilm e5-small] [--texts 1536] [--repeat 5]
Last line: <model>: speedup=X roofline=Y, for every model
"""

import argparse
import statistics
import time

import numpy as np
import torch
from _common import bundled_texts


def naive_states(model, tokenizer, texts, token="last", batch_size=4):
    """The straightforward loop: data order, batches of 4, every hidden state returned, then indexed (the last
    content token) or averaged over the content tokens."""
    out = []
    with torch.no_grad():
        for i in range(0, len(texts), batch_size):
            enc = tokenizer(texts[i:i + batch_size], padding=True, return_tensors="pt")
            hidden = torch.stack(model(**enc, output_hidden_states=True).hidden_states)  # [L+1, B, T, D]
            for j in range(hidden.shape[1]):
                n = int(enc["attention_mask"][j].sum())
                out.append((hidden[1:, j, n - 1] if token == "last" else hidden[1:, j, :n].mean(1)).numpy())
    return np.stack(out)


def flops_per_token(config, seq_len):
    """Forward FLOPs of one token: 2 x weights of the matmuls, plus attention scores and mixing."""
    d, layers, ff = config.hidden_size, config.num_hidden_layers, config.intermediate_size
    dense = layers * (4 * d * d + 2 * d * ff)
    attention = layers * 2 * seq_len * d  # QK^T and AV
    return 2 * (dense + attention)


def matmul_peak(dtype, n=2048, repeat=5):
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2 * n ** 3 / best


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(name, texts, args):
    from xlc import models
    from xlc.extract import Extractor

    spec = models.resolve(name)
    model, tokenizer = models.load(spec, dtype="float32", device="cpu")
    token = spec.entry.token if spec.entry else "last"
    enc = tokenizer(texts)["input_ids"]
    lengths = np.array([len(x) for x in enc])
    tokens = int(lengths.sum())
    useful_flops = sum(flops_per_token(model.config, n) * n for n in lengths)
    xlc = Extractor(model, tokenizer, token=token, batch_size=args.batch_size, progress=False)
    a, b = naive_states(model, tokenizer, texts[:64], token), xlc(texts[:64])  # warm-up and agreement
    np.testing.assert_allclose(a, b, atol=1e-4)
    t_naive, t_xlc, peaks = [], [], []
    for _ in range(args.repeat):  # interleaved, so drift in machine load hits both alike
        t_naive.append(_timed(lambda: naive_states(model, tokenizer, texts, token)))
        t_xlc.append(_timed(lambda: xlc(texts)))
        peaks.append(matmul_peak(torch.float32))
    naive_s, xlc_s, peak = statistics.median(t_naive), statistics.median(t_xlc), statistics.median(peaks)
    achieved = useful_flops / xlc_s
    print(f"{name} (token {token}): {len(texts)} texts, {tokens} tokens, mean length {lengths.mean():.1f}, "
          f"{torch.get_num_threads()} threads")
    print(f"  naive (batch 4, data order, all states): {naive_s:.2f} s  {tokens / naive_s:,.0f} tok/s")
    print(f"  xlc (batch {args.batch_size}, length-sorted):     {xlc_s:.2f} s  {tokens / xlc_s:,.0f} tok/s")
    print(f"  forward FLOP/s achieved {achieved / 1e9:.1f} G; dense fp32 matmul {peak / 1e9:.1f} G", flush=True)
    return f"{name}: speedup={naive_s / xlc_s:.2f} roofline={achieved / peak:.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["minilm", "e5-small"])
    ap.add_argument("--texts", type=int, default=1536)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=32)  # xlc run's default
    args = ap.parse_args()
    # a spread of languages and concepts, in data order
    texts = bundled_texts()[::7][:args.texts]
    print("; ".join(measure(name, texts, args) for name in args.models))


if __name__ == "__main__":
    main()
