"""The paper's published figures (Tables 7 and 8), its lang2vec distances and model-family facts.

Labelled as the paper's wherever shown; see README.md in this folder for the sources.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
CITATION = ('Xu et al. 2024, "Exploring Multilingual Concepts of Human Value in Large Language Models", '
            "Findings of EMNLP 2024")


def paper_table7() -> pd.DataFrame:
    """Table 7 of the paper (percentages), one row per model."""
    return pd.read_csv(HERE / "paper_table7.csv")


def paper_table8() -> pd.DataFrame:
    """Table 8 of the paper (truncated percentages), one row per model (family, size)."""
    return pd.read_csv(HERE / "paper_table8.csv", dtype={"size": str})


@cache
def model_families() -> dict:
    return json.loads((HERE / "model_families.json").read_text(encoding="utf-8"))


@cache
def paper_distances() -> dict:
    """``{kind: {lang: {lang: distance}}}`` as the paper's analysis used them."""
    return json.loads((HERE / "lang2vec_distances_paper.json").read_text(encoding="utf-8"))
