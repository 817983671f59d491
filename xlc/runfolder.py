"""The run folder: what ``xlc run`` writes and what every reader (the book, stats, steering, the command
line) reads. This module is its only owner: :func:`write` and :func:`read`, with the run's record typed
as :class:`RunRecord`.

Files (every one written atomically; ``run.json`` last, so a folder with ``run.json`` is complete):

- ``transfer.csv``  concept, source, target, layer, accuracy, n_test, accuracy_lo, accuracy_hi, auc: Acc(source ->
  target) at each layer (1..L), pooled over the folds; source == target is recognition
- ``consistency.csv``  concept, source, target, layer, cosine, cosine_lo, cosine_hi
- ``baseline.csv``  concept, language, layer, accuracy, accuracy_std, n_directions, n_test: random directions (chance)
- ``selected.csv``  one row per (concept, source, target): the headline numbers at the layer chosen without
  peeking, with intervals, Delta, the paper's oracle layer beside it, and the text-only (surface) baselines
- ``cross_concept.csv``  concept (vector), pairs (whose pairs), language, layer, accuracy
- ``split.json``  ``{concept: {"folds": [[keys], ...]}}`` or ``{concept: {"train": [...], "test": [...]}}``
- ``vectors.safetensors``  ``"<concept>/<lang>"`` -> ``[L, D]`` concept vectors
- ``outcomes.npz``  ``"<concept>/outcome"`` ``[S, T, N, L]`` per-item outcomes (1, 0.5 a tie, 0), with
  languages, keys and the tested items
- ``bootstrap.npz``  ``"<concept>/selected"``, ``"<concept>/oracle"`` ``[B, S, T]`` replicates, ``"<concept>/languages"``
- ``run.json``  the :class:`RunRecord`
"""

from __future__ import annotations

import dataclasses
import json
import zipfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from xlc import data as D
from xlc.errors import XlcError
from xlc.io import atomic_path, write_csv, write_json
from xlc.reference import model_families

FORMAT = 3  # 3: ties count one half; 2: cross-validation, intervals, surface baselines; 1: the paper's split only
TABLES = ("transfer", "consistency", "baseline", "selected", "cross_concept")


@dataclass
class RunRecord:
    """Everything about how a run was made (``run.json``)."""

    model: str
    model_source: str  # embedded, random-init, local, hub
    model_path: str
    num_layers: int
    hidden_size: int
    concepts: list[str]
    languages: dict[str, list[str]]  # per concept
    protocol: str = "cv"  # cv: k-fold cross-validation; paper: the paper's single split
    folds: int = 5
    layer_choice: str = "inner"  # inner: chosen inside each training fold; oracle: best on the test items
    bootstrap: int = 1000
    bootstrap_refit: bool = True  # False: replicates resample the tested items with the vectors fixed
    method: str = "mean_diff"
    token: str = "last"
    template: str = "{input}"
    template_name: str = "raw"
    seed: int = 0
    test_size: float | None = None  # the paper's split only
    split_from: str | None = None
    chance_directions: int = 16
    revision: str | None = None
    model_identity: dict = field(default_factory=dict)
    model_description: str | None = None
    model_caveats: list[str] = field(default_factory=list)
    num_parameters: int | None = None
    family: str | None = None
    excluded_languages: list[str] = field(default_factory=list)
    dtype: str = "float32"
    device: str = "cpu"
    data: str = ""
    data_bundled: bool = False
    data_hash: str = ""
    pairs: dict = field(default_factory=dict)  # {concept: {lang: number of pairs}}
    dropped_pairs: dict = field(default_factory=dict)  # {concept: {lang: [keys]}}: pos == neg
    tied_pairs: dict = field(default_factory=dict)  # {concept: {lang: n}}: the same token ids, scored as ties
    unk_share: dict = field(default_factory=dict)  # {lang: share of tokens that are the unknown token}
    partial_items: dict = field(default_factory=dict)  # {concept: {key: [languages missing it]}}
    counts: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    versions: dict = field(default_factory=dict)
    xlc_version: str = ""
    format: int = FORMAT

    @property
    def untrained(self) -> bool:
        """An untrained control: a model's architecture with random weights."""
        return self.model_source == "random-init"

    @property
    def dropped_pair_count(self) -> int:
        return sum(len(v) for c in self.dropped_pairs.values() for v in c.values())

    @property
    def tied_pair_count(self) -> int:
        return sum(n for c in self.tied_pairs.values() for n in c.values())

    def family_facts(self) -> dict | None:
        """The paper's facts about this run's model family (template, exclusions, shares), or None."""
        return dict(model_families()["families"][self.family], name=self.family) if self.family else None

    @classmethod
    def from_json(cls, path: Path) -> RunRecord:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise XlcError(f"{path}: invalid JSON ({e.msg} at line {e.lineno}); rerun 'xlc run'") from None
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise XlcError(f"{path}: written by another version of xlc (format {raw.get('format') if isinstance(raw, dict) else '?'}, "
                           f"this xlc reads {FORMAT}); rerun 'xlc run'")
        names = {f.name for f in dataclasses.fields(cls)}
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in raw]
        if missing:
            raise XlcError(f"{path}: no field {missing[0]!r}; rerun 'xlc run'")
        return cls(**{k: v for k, v in raw.items() if k in names})


def tables(results, cross: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """The long tables of a run folder from :class:`xlc.analysis.ConceptResult` objects; ``cross``:
    ``{concept: [A, S, L]}`` from :func:`xlc.analysis.cross_concept` (A: every concept of the run, in order)."""
    from xlc.stats import headline, interval

    frames = {k: [] for k in TABLES}
    for r in results:
        S, T, L = r.accuracy.shape[1:]
        langs = np.array(r.languages)
        s_i, t_i, l_i = np.indices((S, T, L)).reshape(3, -1)
        lo, hi = interval(r.accuracy[1:])
        frames["transfer"].append(pd.DataFrame({
            "concept": r.concept, "source": langs[s_i], "target": langs[t_i], "layer": l_i + 1,
            "accuracy": r.accuracy[0].ravel(), "n_test": r.n_test[t_i], "accuracy_lo": lo.ravel(),
            "accuracy_hi": hi.ravel(), "auc": r.auc.ravel()}))
        lo, hi = interval(r.cosine[1:])
        frames["consistency"].append(pd.DataFrame({
            "concept": r.concept, "source": langs[s_i], "target": langs[t_i], "layer": l_i + 1,
            "cosine": r.cosine[0].ravel(), "cosine_lo": lo.ravel(), "cosine_hi": hi.ravel()}))
        t_c, l_c = np.indices((T, L)).reshape(2, -1)
        none = np.full(T * L, np.nan)  # no random directions asked for
        frames["baseline"].append(pd.DataFrame({
            "concept": r.concept, "language": langs[t_c], "layer": l_c + 1,
            "accuracy": r.chance.mean(1).ravel() if r.chance.shape[1] else none,
            "accuracy_std": r.chance.std(1).ravel() if r.chance.shape[1] else none,
            "n_directions": r.chance.shape[1], "n_test": r.n_test[t_c]}))
        frames["selected"].append(headline(r))
        if cross is not None and r.concept in cross:
            A = cross[r.concept]
            a_i, s_c, l_x = np.indices(A.shape).reshape(3, -1)
            names = np.array([x.concept for x in results])
            keep = ~np.isnan(A.ravel()) & (names[a_i] != r.concept)
            frames["cross_concept"].append(pd.DataFrame({
                "concept": names[a_i][keep], "pairs": r.concept, "language": langs[s_c][keep],
                "layer": l_x[keep] + 1, "accuracy": A.ravel()[keep]}))
    columns = {"cross_concept": ["concept", "pairs", "language", "layer", "accuracy"]}
    return {k: pd.concat(v, ignore_index=True) if v else pd.DataFrame(columns=columns.get(k, []))
            for k, v in frames.items()}


def write(folder: str | Path, record: RunRecord, results: list, split: dict[str, D.Folds],
          cross: dict[str, np.ndarray] | None = None) -> Path:
    """Write a whole run folder from :class:`xlc.analysis.ConceptResult` objects (and the cross-concept
    arrays of :func:`xlc.analysis.cross_concept`); ``run.json`` last."""
    from safetensors.numpy import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").unlink(missing_ok=True)  # incomplete until the record is written again
    for name, frame in tables(results, cross).items():
        write_csv(folder / f"{name}.csv", frame)
    write_json(folder / "split.json", {c: f.to_json() for c, f in split.items()})
    vectors = {f"{r.concept}/{lang}": np.ascontiguousarray(r.vectors[s], dtype=np.float32)
               for r in results for s, lang in enumerate(r.languages)}
    with atomic_path(folder / "vectors.safetensors") as tmp:
        save_file(vectors, str(tmp))
    outcomes, replicates = {}, {}
    for r in results:
        outcomes[f"{r.concept}/outcome"] = r.outcomes.astype(np.float16)  # 0, 0.5 or 1: exact
        outcomes[f"{r.concept}/tested"] = r.tested
        outcomes[f"{r.concept}/languages"] = replicates[f"{r.concept}/languages"] = np.array(r.languages)
        outcomes[f"{r.concept}/keys"] = np.array(r.keys)
        replicates[f"{r.concept}/selected"] = r.selected[1:].astype(np.float32)
        replicates[f"{r.concept}/oracle"] = r.oracle[1:].astype(np.float32)
    for name, arrays in (("outcomes.npz", outcomes), ("bootstrap.npz", replicates)):
        with atomic_path(folder / name) as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
    write_json(folder / "run.json", dataclasses.asdict(record))
    return folder


@dataclass
class Run:
    """A run folder as written by :func:`write`: its record, and its tables read on first use."""

    path: Path
    name: str
    record: RunRecord

    def _csv(self, name: str) -> pd.DataFrame:
        path = self.path / f"{name}.csv"
        try:
            return pd.read_csv(path, keep_default_na=False, na_values=[""])
        except (OSError, ValueError) as e:  # pandas' parser errors are ValueErrors
            raise XlcError(f"{path}: unreadable ({type(e).__name__}: {e}); the run folder is damaged, rerun 'xlc run'") from None

    @cached_property
    def transfer(self) -> pd.DataFrame:
        return self._csv("transfer")

    @cached_property
    def consistency(self) -> pd.DataFrame:
        return self._csv("consistency")

    @cached_property
    def baseline(self) -> pd.DataFrame:
        return self._csv("baseline")

    @cached_property
    def selected(self) -> pd.DataFrame:
        return self._csv("selected")

    @cached_property
    def cross_concept(self) -> pd.DataFrame:
        return self._csv("cross_concept")

    @cached_property
    def replicates(self) -> dict[str, dict[str, np.ndarray]]:
        """``{concept: {"selected": [B, S, T], "oracle": [B, S, T], "languages": [S]}}``."""
        out: dict[str, dict] = {}
        path = self.path / "bootstrap.npz"
        try:
            with np.load(path, allow_pickle=False) as z:
                for key in z.files:
                    concept, what = key.split("/", 1)
                    value = z[key]
                    out.setdefault(concept, {})[what] = [str(x) for x in value] if what == "languages" else value
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:  # a truncated or foreign file
            raise XlcError(f"{path}: unreadable ({type(e).__name__}); the run folder is damaged, rerun 'xlc run'") from None
        return out

    def vectors(self, concept: str, language: str) -> np.ndarray:
        """The ``[L, D]`` concept vectors of one (concept, language)."""
        from safetensors import safe_open

        path = self.path / "vectors.safetensors"
        with safe_open(str(path), framework="numpy") as fh:
            key = f"{concept}/{language}"
            if key not in fh.keys():
                have = sorted(fh.keys())
                raise XlcError(f"{path}: no vectors for {key!r}; available: {', '.join(have[:10])}"
                               f"{' ...' if len(have) > 10 else ''}")
            return fh.get_tensor(key)

    def split(self) -> dict[str, D.Folds]:
        return D.read_split(self.path / "split.json")

    # ---- what the views ask of a run ----

    @property
    def model(self) -> str:
        return self.record.model

    @property
    def num_layers(self) -> int:
        return self.record.num_layers

    @property
    def num_parameters(self) -> int | None:
        return self.record.num_parameters

    @property
    def concepts(self) -> list[str]:
        return list(self.record.concepts)

    def languages(self, concept: str) -> list[str]:
        return list(self.record.languages[concept])

    @property
    def family(self) -> dict | None:
        return self.record.family_facts()


REQUIRED = ("run.json", *(f"{t}.csv" for t in TABLES), "split.json", "vectors.safetensors", "bootstrap.npz")


def read(folder: str | Path, name: str | None = None) -> Run:
    """A run folder, checked complete; XlcError naming the missing or broken file."""
    folder = Path(folder)
    if not folder.is_dir():
        raise XlcError(f"{folder}: run folder not found; write one with 'xlc run --out {folder}'")
    if not (folder / "run.json").is_file():
        raise XlcError(f"{folder / 'run.json'}: missing; the run is incomplete (run.json is written last), rerun 'xlc run'")
    record = RunRecord.from_json(folder / "run.json")
    for f in REQUIRED:
        if not (folder / f).is_file():
            raise XlcError(f"{folder / f}: missing; the run folder is damaged, rerun 'xlc run'")
    return Run(folder, name or folder.name, record)


def read_all(paths) -> list[Run]:
    """Several run folders, named by folder; equal folder names get their parent's name prepended."""
    paths = [Path(p) for p in paths]
    names = [p.name for p in paths]
    names = [f"{p.parent.name}-{p.name}" if names.count(p.name) > 1 else p.name for p in paths]
    return [read(p, n) for p, n in zip(paths, names)]
