"""Language-identification and script check of the bundled data for some languages.

usage: .venv/bin/python tools/langid_check.py LANG [LANG ...]
Prints, per language, the share of texts py3langid (restricted to the study's languages) assigns
to it, the confusions, and every script/schema problem.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from xlc import data as D, quality  # noqa: E402

root = D.bundled_root()
for lang in sys.argv[1:]:
    problems = [p for c in D.CONCEPTS for p in quality.check_file(root, c, lang)]
    problems += [p for c in D.CONCEPTS for p in quality.check_alignment(root, c, ["en", lang])]
    for p in problems:
        print(p)
    rep = quality.langid_report(root, [lang]).get(lang)
    if rep:
        print(f"{lang}: langid agrees on {rep['agree']:.1%} of {rep['n']} texts; confusions {rep['confusions']}")
        for text, got in rep["examples"]:
            print(f"   as {got}: {text}")
    print(f"{lang}: {len(problems)} problems")
