"""Quality checks of a parallel value-pair data set: schema, alignment, scripts, language identity.

Used by the bundled data set's tests and available for any folder in the MVALUE layout
(``python -m xlc check --data DIR``). Each check returns a list of problems (strings naming the
file and the item); an empty list means it passed.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from pathlib import Path

from xlc import data as D

# The script each study language is written in, as Unicode script blocks of its letters.
_RANGES = {
    "han": [(0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0xF900, 0xFAFF)],
    "kana": [(0x3040, 0x309F), (0x30A0, 0x30FF), (0x31F0, 0x31FF), (0xFF66, 0xFF9F)],
    "hangul": [(0xAC00, 0xD7AF), (0x1100, 0x11FF), (0x3130, 0x318F)],
    "tamil": [(0x0B80, 0x0BFF)],
    "telugu": [(0x0C00, 0x0C7F)],
}
SCRIPT = {"zh": ("han",), "ja": ("han", "kana"), "ko": ("hangul",), "ta": ("tamil",), "te": ("telugu",)}
# languages that must show a script of their own somewhere in every text
SIGNATURE = {"ja": "kana", "zh": "han", "ko": "hangul", "ta": "tamil", "te": "telugu"}
LANGID_SUPPORTED = tuple(l for l in D.LANGUAGES if l != "ny")  # py3langid has no Chichewa model


def _script_of(ch: str) -> str:
    cp = ord(ch)
    for name, ranges in _RANGES.items():
        if any(lo <= cp <= hi for lo, hi in ranges):
            return name
    if "LATIN" in unicodedata.name(ch, ""):
        return "latin"
    return "other"


def script_share(text: str, lang: str) -> float:
    """Share of the letters of ``text`` written in ``lang``'s script (Latin for the Latin-script languages)."""
    letters = [ch for ch in text if unicodedata.category(ch).startswith("L")]
    if not letters:
        return 0.0
    allowed = SCRIPT.get(lang, ("latin",))
    return sum(_script_of(ch) in allowed for ch in letters) / len(letters)


def texts_of(concept: str, item: dict) -> dict[str, str]:
    """The natural-language texts of an item, each side with its scenario or question, without the
    English 'Question:/Answer:' frame the paper adds."""
    extra = item.get(D.EXTRA_FIELD.get(concept, ""), "")
    return {side: (extra + " " + item[side]).strip() for side in ("pos", "neg")}


def iter_items(root: Path, concept: str, lang: str):
    import json

    path = D.concept_file(root, concept, lang)
    raw = json.loads(path.read_text(encoding="utf-8"))
    for group, items in raw.items():
        for ident, item in items.items():
            yield path, f"{group}|{ident}", item


def check_file(root: Path, concept: str, lang: str, min_script: float = 0.8) -> list[str]:
    """Schema (via xlc.data), pos != neg, no duplicate texts, script, length ratio in [0.5, 2]."""
    problems = []
    ps = D.load_pairs(root, concept, lang)  # raises XlcError on schema problems
    problems += [f"{ps.path}, item {k!r}: pos == neg" for k in ps.dropped]
    seen = Counter()
    for path, key, item in iter_items(root, concept, lang):
        for side in ("pos", "neg"):
            seen[item[side]] += 1
        ratio = len(item["pos"]) / max(len(item["neg"]), 1)
        if not 0.5 <= ratio <= 2:
            problems.append(f"{path}, item {key!r}: pos/neg length ratio {ratio:.2f} outside [0.5, 2]")
        for field in ("pos", "neg") + ((D.EXTRA_FIELD[concept],) if concept in D.EXTRA_FIELD else ()):
            text = item[field]
            share = script_share(text, lang)
            if share < min_script:
                problems.append(f"{path}, item {key!r}: {field!r} is {share:.0%} in the {lang} script: {text!r}")
            sig = SIGNATURE.get(lang)
            if sig and not any(_script_of(ch) == sig for ch in text):
                problems.append(f"{path}, item {key!r}: {field!r} has no {sig} characters: {text!r}")
    problems += [f"{D.concept_file(root, concept, lang)}: text appears {n} times: {t!r}" for t, n in seen.items() if n > 1]
    return problems


def check_alignment(root: Path, concept: str, langs: list[str]) -> list[str]:
    """Every language has exactly the keys of the first (reference) language."""
    keys = {l: {k for _, k, _ in iter_items(root, concept, l)} for l in langs}
    ref = langs[0]
    out = []
    for l in langs[1:]:
        missing, extra = sorted(keys[ref] - keys[l]), sorted(keys[l] - keys[ref])
        if missing or extra:
            out.append(f"{D.concept_file(root, concept, l)}: keys differ from {ref}: missing {missing[:5]}, extra {extra[:5]}")
    return out


def identify(texts: list[str], candidates=LANGID_SUPPORTED) -> list[str]:
    """py3langid's language for each text, restricted to ``candidates`` (the study's languages)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    ident.set_languages(list(candidates))
    return [ident.classify(t)[0] for t in texts]


def langid_report(root: Path, langs, concepts=D.CONCEPTS) -> dict[str, dict]:
    """Per language: share of texts identified as that language, and the confusions."""
    report = {}
    for lang in langs:
        if lang not in LANGID_SUPPORTED:
            continue
        texts = [t for c in concepts for _, _, item in iter_items(root, c, lang) for t in texts_of(c, item).values()]
        got = identify(texts)
        confusions = Counter(g for g in got if g != lang)
        wrong = [(t, g) for t, g in zip(texts, got) if g != lang]
        report[lang] = {"n": len(texts), "agree": 1 - len(wrong) / len(texts), "confusions": dict(confusions),
                        "examples": wrong}
    return report

