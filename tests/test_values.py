"""The bundled value-pair data set: 7 concepts x 16 languages x >= 64 parallel pairs, all checks."""

import pytest

from xlc import data as D
from xlc import quality

ROOT = D.bundled_root()
MIN_PAIRS = 64


def test_every_concept_and_language_is_there():
    found = D.discover(ROOT)
    assert sorted(found) == sorted(D.CONCEPTS)
    for concept in D.CONCEPTS:
        assert found[concept] == sorted(D.LANGUAGES), concept


@pytest.mark.parametrize("concept", D.CONCEPTS)
def test_parallel_keys_and_counts(concept):
    langs = list(D.LANGUAGES)
    assert quality.check_alignment(ROOT, concept, langs) == []
    for lang in langs:
        assert len(D.load_pairs(ROOT, concept, lang)) >= MIN_PAIRS, (concept, lang)


@pytest.mark.parametrize("lang", D.LANGUAGES)
def test_schema_script_duplicates_and_length_ratio(lang):
    problems = [p for c in D.CONCEPTS for p in quality.check_file(ROOT, c, lang)]
    assert problems == [], "\n".join(problems[:20])


@pytest.mark.parametrize("concept", D.CONCEPTS)
def test_no_surface_cue_gives_a_side_away(concept):
    """The data rules of issue 10: in every file each side is the longer one in 35-65% of the pairs, and no word
    marks one side (>= 30% of one side's texts, < 5% of the other's); toxicity's insults are its negative side."""
    problems, lines = [], []
    for lang in D.LANGUAGES:
        r = quality.cue_report(ROOT, concept, lang, classifiers=False)
        problems += r.problems()
        lines.append(f"{lang}: pos {r.pos_longer:.2f} neg {r.neg_longer:.2f} markers {[m[0] for m in r.markers]}")
    print("\n".join(lines))
    assert problems == [], "\n".join(problems)


def test_the_cue_rules_can_fail(tmp_path):
    import json

    folder = tmp_path / "toxicity"
    folder.mkdir()
    items = {"g": {str(i): {"pos": f"Thanks for the help with part {i}, but please check it.",
                            "neg": f"You idiot, part {i} is wrong."} for i in range(10)}}
    (folder / "toxicity_en.json").write_text(json.dumps(items))
    r = quality.cue_report(tmp_path, "toxicity", "en", classifiers=False)
    assert r.pos_longer == 1.0 and any("positive side is longer in 100%" in p for p in r.problems())
    assert any(p.startswith(str(r.path)) and "'but'" in p for p in r.problems())  # a marker on the civil side fails
    assert not any("'idiot'" in p for p in r.problems())  # the insult itself is toxicity's negative side
    assert ("idiot", "neg", 0.0, 1.0) in r.markers
    assert quality.words("私は犬が好き。", "ja") >= {"犬", "好き", "。"} and "big" in quality.words("Big dog!", "en")


def test_language_identification_agrees_on_95_percent():
    report = quality.langid_report(ROOT, D.LANGUAGES)
    assert set(report) == set(D.LANGUAGES) - {"ny"}  # py3langid has no Chichewa model
    lines = [f"{l}: {r['agree']:.1%} of {r['n']}, confusions {r['confusions']}" for l, r in report.items()]
    print("\n".join(lines))  # shown with -s: confusions are reported, not hidden
    low = {l: r for l, r in report.items() if r["agree"] < 0.95}
    assert not low, "\n".join(lines)


def test_checks_catch_problems(tmp_path):
    """The checks above can fail: a wrong script, a skewed length, a duplicate, a mislabelled language."""
    import json

    folder = tmp_path / "fairness"
    folder.mkdir()
    items = {"g": {"1": {"pos": "The judge listened to both sides fairly.", "neg": "The judge took a bribe."},
                   "2": {"pos": "Short.", "neg": "A very very long negative sentence that goes on and on."},
                   "3": {"pos": "The judge listened to both sides fairly.", "neg": "Different text here."}}}
    (folder / "fairness_zh.json").write_text(json.dumps(items))
    problems = quality.check_file(tmp_path, "fairness", "zh")
    assert any("in the zh script" in p for p in problems)
    assert any("length ratio" in p for p in problems)
    assert any("appears 2 times" in p for p in problems)
    assert quality.identify(["Le juge a écouté les deux parties équitablement."]) == ["fr"]


def test_datasheet_counts_match_the_files():
    import re

    text = (ROOT / "DATASHEET.md").read_text(encoding="utf-8")
    concepts, langs, pairs = map(int, re.search(r"(\d+) concepts × (\d+) languages × (\d+) parallel pairs", text).groups())
    found = D.discover(ROOT)
    assert concepts == len(found) and all(len(v) == langs for v in found.values())
    assert {len(D.load_pairs(ROOT, c, l)) for c in found for l in found[c]} == {pairs}
    for lang in D.LANGUAGES[1:]:
        assert (ROOT / "notes" / f"{lang}.translation.md").is_file() and (ROOT / "notes" / f"{lang}.review.md").is_file()
