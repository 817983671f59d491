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
import sys
import zlib
from dataclasses import dataclass, field, replace
from functools import cached_property
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

    ``pos[i]`` and ``neg[i]`` are the model inputs of item ``keys[i]``.
    """

    concept: str
    lang: str
    path: Path
    keys: list[str]
    pos: list[str]
    neg: list[str]
    dropped: list[str] = field(default_factory=list)  # keys whose pos == neg
    # each item's position in the file, when the items were rearranged (see ``arranged``); None: file order
    file_positions: list[int] | None = None

    def __len__(self) -> int:
        return len(self.keys)

    def arranged(self, *groups: list[str]) -> PairSet:
        """The same pairs with the keys of ``groups`` first (group by group, each in its order), then the
        others in file order. ``file_texts`` and ``file_rows`` still give the file's order, in which the
        texts are cached."""
        order, seen = [], set()
        for keys in groups:
            for k in keys:
                i = self.index.get(k)
                if i is not None and k not in seen:
                    order.append(i)
                    seen.add(k)
        order += [i for i, k in enumerate(self.keys) if k not in seen]
        base = self.file_positions if self.file_positions is not None else range(len(self.keys))
        return replace(self, keys=[self.keys[i] for i in order], pos=[self.pos[i] for i in order],
                       neg=[self.neg[i] for i in order], file_positions=[base[i] for i in order])

    def file_texts(self) -> list[str]:
        """The model inputs as the file orders them: its positives, then its negatives."""
        return list(self._file_texts)

    @cached_property
    def _file_texts(self) -> tuple[str, ...]:
        if self.file_positions is None:
            return tuple(self.pos + self.neg)
        pos, neg = [""] * len(self), [""] * len(self)
        for i, f in enumerate(self.file_positions):
            pos[f], neg[f] = self.pos[i], self.neg[i]
        return tuple(pos + neg)

    def file_rows(self) -> np.ndarray | None:
        """For each row of ``pos + neg`` here, its row in ``file_texts()``; None when in file order."""
        if self.file_positions is None:
            return None
        f = np.asarray(self.file_positions, dtype=np.intp)
        return np.concatenate([f, len(f) + f])

    @cached_property
    def index(self) -> dict[str, int]:
        """``{key: position}`` of the items of this set."""
        return {k: i for i, k in enumerate(self.keys)}

    def select(self, keys: list[str]) -> tuple[list[str], list[int]]:
        """The subset of ``keys`` present here, and their indices into this set (fresh lists)."""
        found = self._selected.get(tuple(keys))
        if found is None:
            present = [k for k in keys if k in self.index]
            found = self._selected[tuple(keys)] = (tuple(present), tuple(self.index[k] for k in present))
        return list(found[0]), list(found[1])

    @cached_property
    def _selected(self) -> dict:
        return {}


def concept_file(root: Path, concept: str, lang: str) -> Path:
    return Path(root) / concept / f"{concept}_{lang}.json"


def load_pairs(root: str | Path, concept: str, lang: str) -> PairSet:
    """Read and validate one file; raise XlcError naming the file and item on any problem."""
    path = concept_file(Path(root), concept, lang)
    if not path.is_file():
        raise XlcError(f"{path}: file not found; add it, or leave '{lang}' out with --langs")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise XlcError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); save it as UTF-8") from None
    except json.JSONDecodeError as e:
        raise XlcError(f"{path}: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}; fix the file") from None
    if not isinstance(data, dict) or not data:
        raise XlcError(f"{path}: expected a non-empty object {{group: {{id: item}}}}, got {type(data).__name__}")
    need = ["pos", "neg"] + ([EXTRA_FIELD[concept]] if concept in EXTRA_FIELD else [])
    keys, pos, neg, dropped = [], [], [], []
    for group, items in data.items():
        if "|" in group:
            raise XlcError(f"{path}: group name {group!r} contains '|', which xlc uses to join group and id; rename it")
        if not isinstance(items, dict):
            raise XlcError(f"{path}, group {group!r}: expected an object {{id: item}}, got {type(items).__name__}")
        for ident, item in items.items():
            key = sys.intern(f"{group}|{ident}")  # one object per key everywhere: list comparisons are identity checks
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
    return PairSet(concept, lang, path, keys, pos, neg, dropped)


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


@dataclass
class Split:
    train: list[str]
    test: list[str]


def make_split(keys, concept: str, test_size: float = 0.2, seed: int = 0) -> Split:
    """One seeded split of the keys of a concept, shared by every language.

    The permutation depends on (seed, concept) only, so every language, and every run with the
    same keys, gets the same split.
    """
    keys = sorted(set(keys))
    if not 0 < test_size < 1:
        raise XlcError(f"--test-size {test_size}: must be between 0 and 1")
    n_test = int(np.floor(test_size * len(keys) + 0.5))
    if n_test < 1 or n_test >= len(keys):
        raise XlcError(f"{concept}: {len(keys)} items cannot be split with --test-size {test_size}; add items")
    rng = np.random.default_rng([seed, zlib.crc32(concept.encode())])
    order = rng.permutation(len(keys))
    test = sorted(keys[i] for i in order[:n_test])
    train = sorted(keys[i] for i in order[n_test:])
    return Split(train, test)


def make_folds(keys, concept: str, k: int = 5, seed: int = 0) -> list[list[str]]:
    """``k`` seeded folds of the keys of a concept, shared by every language: each fold a sorted list
    of keys, sizes differing by at most one.

    Like :func:`make_split`, the assignment depends on (seed, concept) and the set of keys only.
    """
    keys = sorted(set(keys))
    if k < 2 or k > len(keys):
        raise XlcError(f"{concept}: {len(keys)} items cannot be cut into {k} folds; use --folds between 2 and {len(keys)}")
    rng = np.random.default_rng([seed, zlib.crc32(concept.encode())])
    order = rng.permutation(len(keys))
    return [sorted(keys[i] for i in order[f::k]) for f in range(k)]


def read_split(path: str | Path) -> dict[str, Split]:
    """Read a ``split.json`` written by an earlier run (``{concept: {"train": [...], "test": [...]}}``)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        out = {c: Split(list(v["train"]), list(v["test"])) for c, v in raw.items()}
    except FileNotFoundError:
        raise XlcError(f"{path}: split file not found; check --split") from None
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as e:
        raise XlcError(f"{path}: not a split file {{concept: {{train: [...], test: [...]}}}} ({e}); check --split") from None
    for concept, s in out.items():
        if set(s.train) & set(s.test):
            raise XlcError(f"{path}, concept {concept!r}: keys in both train and test; fix the split")
    return out


def files_hash(paths) -> str:
    """sha256 over the names and bytes of the data files read (for run.json)."""
    h = hashlib.sha256()
    for p in sorted(Path(p) for p in paths):
        h.update(f"{p.parent.name}/{p.name}\0".encode())
        h.update(p.read_bytes())
    return h.hexdigest()
