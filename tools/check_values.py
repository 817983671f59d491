"""Quick structural check of the bundled value-pair files (the full checks are tests/test_values.py).

usage: python3 tools/check_values.py [LANG ...]
"""
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "xlc" / "values"
CONCEPTS = ["morality", "deontology", "utilitarianism", "fairness", "truthfulness", "toxicity", "harmfulness"]
EXTRA = {"deontology": "scenario", "truthfulness": "question"}


def load(concept, lang):
    path = ROOT / concept / f"{concept}_{lang}.json"
    with open(path, encoding="utf-8") as fh:
        return path, json.load(fh)


def keys(data):
    return {f"{g}|{i}" for g, items in data.items() for i in items}


def main(langs):
    bad = 0
    for concept in CONCEPTS:
        try:
            _, en = load(concept, "en")
        except FileNotFoundError:
            print(f"{concept}: no English file yet")
            continue
        en_keys = keys(en)
        for lang in langs:
            try:
                path, data = load(concept, lang)
            except FileNotFoundError:
                print(f"{concept}_{lang}: missing")
                bad += 1
                continue
            except json.JSONDecodeError as e:
                print(f"{concept}_{lang}: invalid JSON: {e}")
                bad += 1
                continue
            k = keys(data)
            if k != en_keys:
                print(f"{path.name}: keys differ from English: missing {sorted(en_keys - k)[:5]} extra {sorted(k - en_keys)[:5]}")
                bad += 1
            seen = set()
            for g, items in data.items():
                for i, item in items.items():
                    need = ["pos", "neg"] + ([EXTRA[concept]] if concept in EXTRA else [])
                    for f in need:
                        if not isinstance(item.get(f), str) or not item[f].strip():
                            print(f"{path.name} {g}|{i}: field {f!r} missing or empty")
                            bad += 1
                    extra = set(item) - set(need)
                    if extra:
                        print(f"{path.name} {g}|{i}: unexpected fields {sorted(extra)}")
                        bad += 1
                    pos, neg = item.get("pos", ""), item.get("neg", "")
                    if pos == neg:
                        print(f"{path.name} {g}|{i}: pos == neg")
                        bad += 1
                    if pos and neg and not (0.5 <= len(pos) / len(neg) <= 2):
                        print(f"{path.name} {g}|{i}: length ratio {len(pos)/len(neg):.2f} outside [0.5, 2]")
                        bad += 1
                    for t in (pos, neg):
                        if t in seen:
                            print(f"{path.name} {g}|{i}: duplicate text {t!r}")
                            bad += 1
                        seen.add(t)
            print(f"{path.name}: {len(k)} pairs")
    print("OK" if not bad else f"{bad} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["en"]))
