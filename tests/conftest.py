import json
import os
import random
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

WORDS = {
    "en": "good kind honest help share thank bad cruel lie steal hurt cheat day home friend work".split(),
    "fr": "bon gentil honnête aider partager merci mauvais cruel mentir voler blesser tricher jour maison ami travail".split(),
    "zh": list("好善诚帮分谢坏恶谎偷伤骗日家友工"),
    "sw": "nzuri mpole mkweli saidia gawa asante mbaya katili uongo iba umiza danganya siku nyumba rafiki kazi".split(),
}


def write_dataset(root: Path, concepts=("morality", "deontology", "truthfulness"), langs=("en", "fr", "zh"),
                  n: int = 20, seed: int = 0, collapse: dict | None = None, skip: dict | None = None) -> Path:
    """A small synthetic parallel data set in the MVALUE layout.

    Positives use the first half of each language's words, negatives the second half, so even a
    random model sees a consistent lexical contrast. ``collapse[(concept, lang)]`` lists keys
    whose neg is set equal to pos; ``skip[(concept, lang)]`` lists keys left out of that file.
    """
    rng = random.Random(seed)
    for concept in concepts:
        for lang in langs:
            words = WORDS[lang]
            sep = "" if lang == "zh" else " "
            data = {}
            for i in range(n):
                group, ident = f"g{i % 3}", f"{i:02d}"
                key = f"{group}|{ident}"
                if skip and key in skip.get((concept, lang), []):
                    continue
                r = random.Random(seed * 1000 + i)
                stem = sep.join(r.choice(words[12:]) for _ in range(3))
                item = {"pos": stem + sep + sep.join(r.choice(words[:6]) for _ in range(2 + i % 3)),
                        "neg": stem + sep + sep.join(r.choice(words[6:12]) for _ in range(2 + i % 3))}
                if item["pos"] == item["neg"]:
                    item["neg"] += sep + words[7]
                if collapse and key in collapse.get((concept, lang), []):
                    item["neg"] = item["pos"]
                if concept == "deontology":
                    item["scenario"] = sep.join(rng.choice(words[12:]) for _ in range(4))
                if concept == "truthfulness":
                    item["question"] = sep.join(rng.choice(words[12:]) for _ in range(4)) + "?"
                data.setdefault(group, {})[ident] = item
            path = root / concept / f"{concept}_{lang}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return root


def record(folder) -> dict:
    """A run's record as a dict, read by its owner (xlc.runfolder)."""
    import dataclasses

    from xlc import runfolder

    return dataclasses.asdict(runfolder.read(folder).record)


@pytest.fixture
def dataset(tmp_path):
    return write_dataset(tmp_path / "data")


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """Tiny random models of every architecture, saved as Hugging Face folders (built once)."""
    from xlc.testing import ARCHITECTURES, save_tiny

    root = tmp_path_factory.mktemp("models")
    return {arch: save_tiny(arch, root / arch) for arch in ARCHITECTURES}


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XLC_CACHE", str(tmp_path / "xlc-cache"))
