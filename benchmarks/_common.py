"""Shared helpers of the benchmark scripts (not a test; each script prints its figures)."""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_time(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def bundled_texts(limit=None, langs=None):
    """Texts of the bundled data in data order: concept by concept, language by language, pos then neg."""
    from xlc import data as D

    found = D.discover(D.bundled_root())
    texts = []
    for concept in D.CONCEPTS:
        for lang in D.order_languages(found.get(concept, [])):
            if langs and lang not in langs:
                continue
            ps = D.load_pairs(D.bundled_root(), concept, lang)
            for p, n in zip(ps.pos, ps.neg):
                texts += [p, n]
    return texts[:limit] if limit else texts
