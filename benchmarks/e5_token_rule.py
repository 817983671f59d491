"""How to read multilingual-e5-small: last content token or mean over tokens, with or without the
'query: ' / 'passage: ' prefix it was trained with. Runs xlc on the bundled data (all languages and
concepts) for each choice and prints what the choice of default rests on.

usage: .venv/bin/python benchmarks/e5_token_rule.py [--data DIR] [--langs ...] [--out DIR]
Last line: best=<token>/<template> for the choice with the highest mean recognition.
"""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CHOICES = [("last", "raw"), ("mean", "raw"), ("last", "query: {input}"), ("mean", "query: {input}"),
           ("mean", "passage: {input}")]


def summary(folder: Path) -> dict:
    from xlc import data as D
    from xlc import results, runfolder

    run = runfolder.read(folder)
    rec = run.selected[run.selected.source == run.selected.target]
    per_lang = rec.groupby("target").accuracy.mean()
    shared = [l for l in D.SHARED_LANGUAGES if l in per_lang.index]
    return {"recognition": per_lang.mean(), "worst": f"{per_lang.idxmin()} {per_lang.min():.2f}",
            "auc": run.transfer[(run.transfer.source == run.transfer.target)].groupby(["concept", "target"]).auc.max().mean(),
            "consistency": results.best_layer_consistency(run, shared),
            "en_delta": np.nanmean([d for (s, t), d in run.selected.groupby(["source", "target"]).delta.mean().items()
                                    if s == "en" and t != "en"])}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data")
    ap.add_argument("--langs", nargs="+")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    from xlc.runner import RunConfig, run

    out = Path(args.out or tempfile.mkdtemp(prefix="e5-token-rule-"))
    rows = []
    for token, template in CHOICES:
        folder = out / f"{token}-{template.split(':')[0] if ':' in template else template}"
        if not (folder / "run.json").is_file():
            run(RunConfig(model="e5-small", data=args.data, langs=args.langs, token=token, template=template,
                          out=str(folder), bootstrap=0, progress=False, log=None))
        rows.append((token, template, summary(folder)))
        s = rows[-1][2]
        print(f"{token:4} {template!r:20} recognition {s['recognition']:.3f} (worst {s['worst']}), best-layer AUC "
              f"{s['auc']:.3f}, consistency (shared languages) {s['consistency']:.3f}, mean Delta en->others "
              f"{s['en_delta']:+.3f}", flush=True)
    best = max(rows, key=lambda r: r[2]["recognition"])
    print(f"best={best[0]}/{best[1]}")


if __name__ == "__main__":
    main()
