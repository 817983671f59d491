"""Quality checks of a parallel value-pair data set: schema, alignment, scripts, language identity,
and the surface cues that would let a rule with no model tell the two sides apart.

Used by the bundled data set's tests and by ``xlc check DIR`` for any folder in the MVALUE layout.
Each check returns a list of problems (strings naming the file and the item or word); an empty list
means it passed.

Surface-cue rules (a contrast that a length rule or one marker word detects is a flaw in the data):

- **length balance**: in every file the positive side is the longer one (in characters) in 35-65%
  of the pairs, and so is the negative side;
- **no one-sided word**: no word (in Chinese and Japanese, no character or character pair) occurs in
  30% or more of one side's texts and under 5% of the other's; the negative side of toxicity (its
  insults are the concept itself) is reported but allowed.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass, field
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
BALANCE = (0.35, 0.65)  # allowed share of pairs whose positive (or negative) side is longer
ONE_SIDED = (0.30, 0.05)  # a word in >= 30% of one side's texts and < 5% of the other's is a marker
NO_SPACES = ("zh", "ja")  # languages read as characters and character pairs instead of words
ALLOWED_MARKERS = {("toxicity", "neg")}  # insults are the negative side of toxicity itself


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
        for name in ("pos", "neg") + ((D.EXTRA_FIELD[concept],) if concept in D.EXTRA_FIELD else ()):
            text = item[name]
            share = script_share(text, lang)
            if share < min_script:
                problems.append(f"{path}, item {key!r}: {name!r} is {share:.0%} in the {lang} script: {text!r}")
            sig = SIGNATURE.get(lang)
            if sig and not any(_script_of(ch) == sig for ch in text):
                problems.append(f"{path}, item {key!r}: {name!r} has no {sig} characters: {text!r}")
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



# ---- surface cues ----

def words(text: str, lang: str) -> set[str]:
    """The word types of a text: lower-cased runs of letters, marks and digits, and each punctuation mark
    or symbol on its own; for Chinese and Japanese, every letter and every pair of adjacent letters."""
    text = text.lower()
    out = {ch for ch in text if unicodedata.category(ch)[0] in "PS"}
    cleaned = "".join(ch if unicodedata.category(ch)[0] in "LMN" else " " for ch in text)
    if lang not in NO_SPACES:
        return out | set(cleaned.split())
    for run in cleaned.split():
        out.update(run)
        out.update(run[i:i + 2] for i in range(len(run) - 1))
    return out


def length_balance(pos: list[str], neg: list[str]) -> tuple[float, float]:
    """``(share of pairs whose positive is longer, share whose negative is longer)``, in characters."""
    n = max(len(pos), 1)
    return (sum(len(p) > len(q) for p, q in zip(pos, neg)) / n, sum(len(p) < len(q) for p, q in zip(pos, neg)) / n)


def one_sided_words(pos: list[str], neg: list[str], lang: str, hi: float = ONE_SIDED[0],
                    lo: float = ONE_SIDED[1]) -> list[tuple[str, str, float, float]]:
    """Words in >= ``hi`` of one side's texts and < ``lo`` of the other's: ``(word, side, share in pos,
    share in neg)``, most lopsided first."""
    df_pos = Counter(w for t in pos for w in words(t, lang))
    df_neg = Counter(w for t in neg for w in words(t, lang))
    n_pos, n_neg = max(len(pos), 1), max(len(neg), 1)
    out = []
    for w in set(df_pos) | set(df_neg):
        a, b = df_pos[w] / n_pos, df_neg[w] / n_neg
        if a >= hi and b < lo:
            out.append((w, "pos", a, b))
        elif b >= hi and a < lo:
            out.append((w, "neg", a, b))
    return sorted(out, key=lambda x: (-abs(x[2] - x[3]), x[0]))


@dataclass
class CueReport:
    """The surface cues of one file: length balance, one-sided words, and what a surface rule reaches
    under 5-fold cross-validation (pairwise accuracy)."""

    path: Path
    concept: str
    lang: str
    n: int
    pos_longer: float
    neg_longer: float
    markers: list = field(default_factory=list)  # (word, side, share pos, share neg)
    length_accuracy: float = float("nan")
    ngram_accuracy: float = float("nan")

    def problems(self) -> list[str]:
        lo, hi = BALANCE
        out = []
        for name, share in (("positive", self.pos_longer), ("negative", self.neg_longer)):
            if not lo <= share <= hi:
                out.append(f"{self.path}: the {name} side is longer in {share:.0%} of {self.n} pairs (allowed "
                           f"{lo:.0%}-{hi:.0%}); lengthen or shorten some {name} texts")
        for w, side, a, b in self.markers:
            if (self.concept, side) not in ALLOWED_MARKERS:
                out.append(f"{self.path}: {w!r} is in {max(a, b):.0%} of the {side} texts and {min(a, b):.0%} of the "
                           f"others; reword so that no single word marks one side")
        return out


def cue_report(root: Path, concept: str, lang: str, classifiers: bool = True, folds: int = 5) -> CueReport:
    """Surface cues of ``<root>/<concept>/<concept>_<lang>.json``; ``classifiers=False`` skips the
    (slower) cross-validated surface classifiers."""
    from xlc import surface

    items = [(key, item) for _, key, item in iter_items(Path(root), concept, lang)]
    pos = [item["pos"] for _, item in items]
    neg = [item["neg"] for _, item in items]
    a, b = length_balance(pos, neg)
    report = CueReport(D.concept_file(root, concept, lang), concept, lang, len(items), a, b,
                       one_sided_words(pos, neg, lang))
    if classifiers and len(items) >= folds:
        keys = [k for k, _ in items]
        assignment = D.make_folds(keys, concept, folds).index(keys)
        figures = surface.file_figures(pos, neg, assignment)
        report.length_accuracy, report.ngram_accuracy = figures["length"], figures["ngram"]
    return report


def check(root: Path, concepts=None, langs=None, classifiers: bool = True, langid: bool = False,
          out=None) -> list[str]:
    """Every check of a data folder, with a line of surface-cue figures per file printed to ``out``;
    returns the problems (empty: the folder passes)."""
    import sys

    out = out or sys.stdout
    found = D.discover(root)
    concepts = [c for c in (concepts or found) if c in found] or list(found)
    problems = []
    print(f"{'file':34} {'pairs':>5} {'pos>':>5} {'neg>':>5} {'len':>5} {'ngram':>5}  one-sided words "
          "(>= 30% one side, < 5% other; ~ near: >= 20%)", file=out)
    for c in concepts:
        ls = [l for l in (langs or found[c]) if l in found[c]]
        problems += check_alignment(root, c, D.order_languages(found[c]))
        for l in D.order_languages(ls):
            problems += check_file(root, c, l)
            r = cue_report(root, c, l, classifiers=classifiers)
            near = [w for w in one_sided_words([i["pos"] for *_, i in iter_items(root, c, l)],
                                               [i["neg"] for *_, i in iter_items(root, c, l)], l, hi=0.2)
                    if w not in r.markers]
            words_shown = [f"{w}({side} {max(a, b):.0%})" for w, side, a, b in r.markers] + \
                          [f"~{w}({side} {max(a, b):.0%})" for w, side, a, b in near[:4]]
            print(f"{r.path.parent.name + '/' + r.path.name:34} {r.n:5d} {r.pos_longer:5.2f} {r.neg_longer:5.2f} "
                  f"{r.length_accuracy:5.2f} {r.ngram_accuracy:5.2f}  {' '.join(words_shown)}", file=out)
            problems += r.problems()
    if langid:
        for l, rep in langid_report(root, langs or D.order_languages({x for c in concepts for x in found[c]}),
                                    concepts).items():
            print(f"langid {l}: {rep['agree']:.1%} of {rep['n']} texts; confusions {rep['confusions']}", file=out)
            if rep["agree"] < 0.95:
                problems.append(f"{root}: py3langid assigns only {rep['agree']:.0%} of the {l} texts to {l}")
    return problems
