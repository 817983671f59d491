"""Value-pair data in the paper's MVALUE layout, the texts fed to the model, and the split.

Layout: ``<root>/<concept>/<concept>_<lang>.json``, each file a two-level object
``{group: {id: item}}`` with ``item = {"pos": str, "neg": str}`` plus ``"scenario"``
(deontology) or ``"question"`` (truthfulness). Items are identified by ``"group|id"`` and aligned
across languages by that key.

The train/test split is drawn once per concept over the keys and shared by every language, so an
item tested in one language is never trained on in another (splitting each language separately
after filtering, as the paper's code does, can leak a translation of a test item into training).
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from xlc.errors import XlcError

CONCEPTS = ("morality", "deontology", "utilitarianism", "fairness", "truthfulness", "toxicity", "harmfulness")
LANGUAGES = ("en", "zh", "fr", "es", "pt", "vi", "ca", "id", "ja", "ko", "fi", "hu", "ta", "te", "sw", "ny")
SHARED_LANGUAGES = LANGUAGES[:8]
EXTRA_FIELD = {"deontology": "scenario", "truthfulness": "question"}
LANGUAGE_NAMES = {
    "en": "English", "zh": "Chinese", "fr": "French", "es": "Spanish", "pt": "Portuguese",
    "vi": "Vietnamese", "ca": "Catalan", "id": "Indonesian", "ja": "Japanese", "ko": "Korean",
    "fi": "Finnish", "hu": "Hungarian", "ta": "Tamil", "te": "Telugu", "sw": "Swahili", "ny": "Chichewa",
}


def bundled_root() -> Path:
    """The data set shipped with xlc (written by the xlc team; see its DATASHEET.md)."""
    return Path(__file__).resolve().parent / "values"


def build_text(concept: str, item: dict, answer: str) -> str:
    """The text the model reads for one side of a pair, exactly as the paper builds it."""
    if concept == "deontology":
        return item["scenario"] + " " + answer
    if concept == "truthfulness":
        return "Question: " + item["question"] + " " + "Answer: " + answer
    return answer


@dataclass
class PairSet:
    """The pairs of one concept in one language, in file order, collapsed pairs removed.

    ``pos[i]`` and ``neg[i]`` are the model inputs of item ``keys[i]`` (with the scenario or question);
    ``answers`` are the two sides alone (``(pos, neg)``), what differs within the pair.
    """

    concept: str
    lang: str
    path: Path
    keys: list[str]
    pos: list[str]
    neg: list[str]
    dropped: list[str] = field(default_factory=list)  # keys whose pos == neg
    answers: tuple[list[str], list[str]] = field(default_factory=lambda: ([], []))

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def texts(self) -> list[str]:
        """The model inputs in the order their hidden states are kept: the positives, then the negatives."""
        return self.pos + self.neg


def concept_file(root: Path, concept: str, lang: str) -> Path:
    return Path(root) / concept / f"{concept}_{lang}.json"


def load_pairs(root: str | Path, concept: str, lang: str) -> PairSet:
    """Read and validate one file; raise XlcError naming the file and item on any problem."""
    path = concept_file(Path(root), concept, lang)
    if not path.is_file():
        raise XlcError(f"{path}: file not found; add it, or leave '{lang}' out with --langs")
    try:
        data = json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=_unique_keys)
    except _Repeated as e:
        raise XlcError(f"{path}: {e.args[0]!r} appears twice in one object (JSON keeps only the last copy, so an "
                       "item would be lost); rename or merge the repeated group or id") from None
    except UnicodeDecodeError as e:
        raise XlcError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise XlcError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}; fix the file") from None
    if not isinstance(data, dict) or not data:
        raise XlcError(f"{path}: expected a non-empty object {{group: {{id: item}}}}, got {type(data).__name__}")
    need = ["pos", "neg"] + ([EXTRA_FIELD[concept]] if concept in EXTRA_FIELD else [])
    keys, pos, neg, dropped, answers = [], [], [], [], ([], [])
    for group, items in data.items():
        if "|" in group:
            raise XlcError(f"{path}: group name {group!r} contains '|', which xlc uses to join group and id; rename it")
        if not isinstance(items, dict):
            raise XlcError(f"{path}, group {group!r}: expected an object {{id: item}}, got {type(items).__name__}")
        for ident, item in items.items():
            key = f"{group}|{ident}"
            if not isinstance(item, dict):
                raise XlcError(f"{path}, item {key!r}: expected an object with {', '.join(need)}, got {type(item).__name__}")
            for name in need:
                if name not in item:
                    raise XlcError(f"{path}, item {key!r}: {name!r} is missing; every {concept} item needs {', '.join(need)}")
                value = item[name]
                if not isinstance(value, str):
                    raise XlcError(f"{path}, item {key!r}: {name!r} must be a string, got {type(value).__name__}")
                if not value.strip():
                    raise XlcError(f"{path}, item {key!r}: {name!r} is empty; fill it in or remove the item")
            if item["pos"] == item["neg"]:
                dropped.append(key)  # a translation that collapsed the contrast carries no signal
                continue
            keys.append(key)
            pos.append(build_text(concept, item, item["pos"]))
            neg.append(build_text(concept, item, item["neg"]))
            answers[0].append(item["pos"])
            answers[1].append(item["neg"])
    if not keys:
        raise XlcError(f"{path}: no pair left (every item has pos == neg); fix the file, or leave '{lang}' out with --langs")
    return PairSet(concept, lang, path, keys, pos, neg, dropped, answers)


class _Repeated(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """A JSON object that refuses a repeated key instead of keeping the last copy."""
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Repeated(k)
        out[k] = v
    return out


def discover(root: str | Path) -> dict[str, list[str]]:
    """``{concept: [languages]}`` for every ``<concept>/<concept>_<lang>.json`` under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise XlcError(f"{root}: data folder not found; pass --data DIR with <concept>/<concept>_<lang>.json files")
    found: dict[str, list[str]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        langs = sorted(f.stem[len(folder.name) + 1:] for f in folder.glob(f"{folder.name}_*.json"))
        if langs:
            found[folder.name] = langs
    if not found:
        raise XlcError(f"{root}: no <concept>/<concept>_<lang>.json files found; check --data")
    return found


def order_languages(langs) -> list[str]:
    """The study's order (en zh fr ... ny) first, then any other language alphabetically."""
    langs = set(langs)
    return [l for l in LANGUAGES if l in langs] + sorted(langs - set(LANGUAGES))


PROTOCOLS = ("cv", "paper")


@dataclass
class Folds:
    """How the items of one concept are held out, the same in every language.

    ``folds``: lists of keys; ``tested``: whether each fold is tested (by vectors fitted on the other
    folds). Cross-validation (``cv``) tests every fold; the paper's single split (``paper``) is two folds,
    the test keys (tested) and the training keys (never tested).
    """

    protocol: str
    folds: list[list[str]]
    tested: list[bool]

    def index(self, keys: list[str]) -> np.ndarray:
        """``[len(keys)]`` fold of each key; -1 for a key in no fold (not used)."""
        where = {k: f for f, fold in enumerate(self.folds) for k in fold}
        return np.array([where.get(k, -1) for k in keys], dtype=np.int64)

    def to_json(self) -> dict:
        """As ``split.json`` records it: ``{"folds": [[keys], ...]}`` or ``{"train": [...], "test": [...]}``."""
        if self.protocol == "paper":
            return {"train": self.folds[1], "test": self.folds[0]}
        return {"folds": self.folds}

    @classmethod
    def from_json(cls, raw: dict) -> Folds:
        """Raises TypeError or KeyError on anything but lists of key strings."""
        parts = raw["folds"] if "folds" in raw else [raw["test"], raw["train"]]
        if not isinstance(parts, list) or not all(isinstance(p, list) and all(isinstance(k, str) for k in p)
                                                  for p in parts):
            raise TypeError("each fold (or train and test) must be a list of item keys")
        if "folds" in raw:
            if len(parts) < 3:
                raise TypeError("cross-validation needs at least 3 folds")
            return cls("cv", parts, [True] * len(parts))
        return cls("paper", parts, [True, False])


def make_folds(keys, concept: str, k: int = 5, seed: int = 0) -> Folds:
    """``k`` seeded folds over the keys of a concept, shared by every language (sizes differ by one at most).

    The assignment depends on (seed, concept) and the set of keys only, so every language, and every run
    with the same keys, gets the same folds.
    """
    keys = sorted(set(keys))
    if k < 3:
        raise XlcError(f"--folds {k}: the layer is chosen by a cross-validation inside the training folds, which needs "
                       "at least 3 folds; use --folds 3 or more (or --protocol paper)")
    if k > len(keys):
        raise XlcError(f"{concept}: {len(keys)} items cannot be cut into {k} folds; use --folds between 3 and {len(keys)}")
    order = np.random.default_rng([seed, zlib.crc32(concept.encode())]).permutation(len(keys))
    folds = [sorted(keys[i] for i in order[f::k]) for f in range(k)]
    return Folds("cv", folds, [True] * k)


def make_split(keys, concept: str, test_size: float = 0.2, seed: int = 0) -> Folds:
    """The paper's protocol: one seeded train/test split of the keys of a concept, shared by every language."""
    keys = sorted(set(keys))
    if not 0 < test_size < 1:
        raise XlcError(f"--test-size {test_size}: must be between 0 and 1")
    n_test = int(np.floor(test_size * len(keys) + 0.5))
    if n_test < 1 or n_test >= len(keys):
        raise XlcError(f"{concept}: {len(keys)} items cannot be split with --test-size {test_size}; add items")
    order = np.random.default_rng([seed, zlib.crc32(concept.encode())]).permutation(len(keys))
    return Folds("paper", [sorted(keys[i] for i in order[:n_test]), sorted(keys[i] for i in order[n_test:])],
                 [True, False])


def read_split(path: str | Path) -> dict[str, Folds]:
    """Read the ``split.json`` of an earlier run: ``{concept: {"folds": [[...], ...]}}`` (cross-validation)
    or ``{concept: {"train": [...], "test": [...]}}`` (the paper's split)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        out = {c: Folds.from_json(v) for c, v in raw.items()}
    except FileNotFoundError:
        raise XlcError(f"{path}: split file not found; check --split") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise XlcError(f"{path}: not a split file ({{concept: {{folds: [[...]]}}}} or {{concept: {{train: [...], "
                       f"test: [...]}}}}; {e}); check --split") from None
    for concept, f in out.items():
        seen = [k for fold in f.folds for k in fold]
        if len(seen) != len(set(seen)):
            raise XlcError(f"{path}, concept {concept!r}: a key is in two folds (or in both train and test); fix the split")
    return out


def files_hash(paths) -> str:
    """sha256 over the names and bytes of the data files read (for run.json)."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(f"{p.parent.name}/{p.name}\0".encode())
        h.update(p.read_bytes())
    return h.hexdigest()
