"""The default pipeline, end to end: `xlc run` on the embedded model and the bundled data, with a cold
activation cache and then a warm one; wall time and peak memory (RSS of the run's process).

usage: .venv/bin/python benchmarks/bench_pipeline.py
Last line: cold_s=X warm_s=Y peak_rss_mb=Z
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEASURE = ("import resource, runpy, sys; sys.argv = ['xlc'] + sys.argv[1:]; "
           "code = 0\ntry:\n    runpy.run_module('xlc', run_name='__main__')\nexcept SystemExit as e:\n    code = e.code or 0\n"
           "print('peak_rss_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr); sys.exit(code)")


def timed_run(cache, out):
    env = dict(os.environ, XLC_CACHE=str(cache), HF_HUB_OFFLINE="1")
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", MEASURE, "run", "--quiet", "--out", str(out)], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode:
        sys.exit(proc.stderr)
    peak = int(next(l.split()[1] for l in proc.stderr.splitlines() if l.startswith("peak_rss_kb")))
    return wall, peak / 1024


def main():
    with tempfile.TemporaryDirectory() as tmp:
        cold_s, cold_mb = timed_run(Path(tmp) / "cache", Path(tmp) / "cold")
        warm_s, warm_mb = timed_run(Path(tmp) / "cache", Path(tmp) / "warm")
        same = (Path(tmp) / "cold" / "transfer.csv").read_bytes() == (Path(tmp) / "warm" / "transfer.csv").read_bytes()
    print(f"cold cache: {cold_s:.1f} s, peak RSS {cold_mb:.0f} MB")
    print(f"warm cache: {warm_s:.1f} s, peak RSS {warm_mb:.0f} MB; identical results: {same}")
    print(f"cold_s={cold_s:.1f} warm_s={warm_s:.1f} peak_rss_mb={max(cold_mb, warm_mb):.0f}")


if __name__ == "__main__":
    main()
