"""The executable book end to end: two tiny random models on a small synthetic data set, `xlc book`, then the
pages opened in headless Chromium. Select with ``-m book``; the browser checks are skipped without chromium."""

from __future__ import annotations

import html as html_
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nbformat
import pytest
from conftest import write_dataset

from xlc import book, cli, metrics
from xlc.errors import XlcError
from xlc.runner import RunConfig, run
from xlc.testing import save_tiny

pytestmark = pytest.mark.book
LANGS = ("en", "fr", "zh")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("book")
    old = os.environ.get("XLC_CACHE")
    os.environ["XLC_CACHE"] = str(root / "cache")  # lang2vec distances and surface baselines too
    try:
        data = write_dataset(root / "data", concepts=("morality", "fairness"), langs=LANGS, n=20)
        runs = []
        for arch in ("llama", "gpt2"):
            model = save_tiny(arch, root / arch)
            runs.append(run(RunConfig(model=str(model), data=str(data), out=str(root / "results" / arch),
                                      chance_directions=4, bootstrap=50, progress=False, log=None)))
        t0 = time.perf_counter()
        index = book.build(runs, root / "book", html=True, progress=False)
        first = time.perf_counter() - t0
        yield {"root": root, "runs": runs, "index": index, "html": index.parent, "first_s": first}
    finally:
        if old is None:
            os.environ.pop("XLC_CACHE", None)
        else:
            os.environ["XLC_CACHE"] = old


def dom(page: Path, tmp_path: Path) -> str:
    out = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                          "--disable-component-update", "--disable-sync", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'chromium'}", "--virtual-time-budget=8000", "--dump-dom",
                          page.as_uri()], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_book_layout_and_offline(built):
    html = built["html"]
    assert built["index"] == built["root"] / "_build" / "html" / "index.html" and built["index"].is_file()
    pages = {p.relative_to(html).as_posix() for p in html.rglob("*.html")}
    assert {f"{book.GENERATED}/{p}.html" for p in book.pages()} | {"intro.html"} <= pages
    assert book.remote_scripts(html) == []
    for p in html.rglob("*.html"):
        assert 'src="http' not in p.read_text(encoding="utf-8"), p
    assert (html / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    transfer = (html / book.GENERATED / "transfer.html").read_text(encoding="utf-8")
    assert "_static/plotly.min.js" in transfer
    assert "_static/mathjax/tex-svg.js" in transfer and (html / "_static" / "mathjax" / "tex-svg.js").is_file()
    # the parameters cells (template defaults and papermill's injected ones) are not shown
    assert "injected-parameters" not in transfer and str(built["runs"][0]) not in transfer
    assert "results/e5-small" not in transfer
    intro = (html / "intro.html").read_text(encoding="utf-8")
    assert "xlc project" in intro and "Cross-validation" in intro
    runs_page = (html / book.GENERATED / "runs.html").read_text(encoding="utf-8")
    assert "llama" in runs_page and "gpt2" in runs_page  # the runs side by side


def test_executed_notebooks_record_inputs_and_hide_parameters(built):
    nb = nbformat.read(str(built["root"] / "book" / book.GENERATED / "recognition.ipynb"), as_version=4)
    assert len(nb.metadata["xlc"]["inputs"]) == 64
    tagged = [c for c in nb.cells if {"parameters", "injected-parameters"} & set(c.metadata.get("tags", []))]
    assert len(tagged) == 2 and all("remove-cell" in c.metadata["tags"] for c in tagged)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_second_build_reexecutes_nothing(built):
    out = built["root"] / "book"
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.ipynb")}
    t0 = time.perf_counter()
    book.build(built["runs"], out, html=False, progress=False)
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.ipynb")} == before
    assert time.perf_counter() - t0 < max(5.0, built["first_s"] / 5)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_transfer_heatmap_renders_in_chromium(built, tmp_path):
    page = dom(built["html"] / book.GENERATED / "transfer.html", tmp_path)
    assert 'class="heatmaplayer' in page
    layer = page[page.index('class="heatmaplayer'):]
    assert "<image" in layer[:5000]  # the heatmap was drawn
    first = page[page.index('class="plotly-graph-div'):]
    first = first[:first.index('class="heatmaplayer') + 20000]
    ticks = {axis: re.findall(rf'<g class="{axis}tick"><text[^>]*data-unformatted="([^"]*)"', first) for axis in "xy"}
    assert sorted(ticks["x"]) == sorted(LANGS) and sorted(ticks["y"]) == sorted(LANGS)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_table7_page_sets_the_runs_beside_the_paper_in_chromium(built, tmp_path):
    page = dom(built["html"] / book.GENERATED / "table7.html", tmp_path)
    tables = re.findall(r"<table.*?</table>", page, re.S)
    t7 = [t for t in tables if "Table 7" in t]
    assert t7, "no Table 7 table"
    headers = [html_.unescape(re.sub(r"<[^>]+>", "", h)).strip() for h in re.findall(r"<th[^>]*>.*?</th>", t7[0], re.S)]
    for col in metrics.TABLE7.values():
        assert col in headers, (col, headers)
    text = html_.unescape(re.sub(r"<[^>]+>", " ", t7[0]))
    assert "llama, layer chosen without peeking (6 pairs)" in text and "gpt2, oracle layer" in text
    assert "(paper, published)" in text and re.search(r"\d+\.\d \[\d+, \d+\]", text)  # a value with its interval


def test_a_failing_notebook_stops_the_build_and_is_named(built, tmp_path, monkeypatch, capsys):
    templates = tmp_path / "templates"
    shutil.copytree(book.TEMPLATES, templates)
    nb = nbformat.read(str(templates / "recognition.ipynb"), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell('raise RuntimeError("boom in the notebook")'))
    nbformat.write(nb, str(templates / "recognition.ipynb"))
    monkeypatch.setattr(book, "TEMPLATES", templates)
    with pytest.raises(XlcError, match=r"recognition\.ipynb failed: RuntimeError: boom in the notebook"):
        book.build(built["runs"], tmp_path / "book", html=False, progress=False)
    assert (tmp_path / "book" / book.GENERATED / "recognition.failed.ipynb").is_file()
    assert not (tmp_path / "book" / book.GENERATED / "recognition.ipynb").exists()
    assert cli.main(["book", "--runs", *map(str, built["runs"]), "--out", str(tmp_path / "book"), "--no-html",
                     "--quiet"]) == 2
    assert "recognition.ipynb failed" in capsys.readouterr().err
