"""xlc.book without a kernel or a browser: templates, hashes, hidden cells, the TOC, the intro,
and the offline check."""

import json

import nbformat
import pytest
import yaml
from runfolder import write_run

from xlc import book, results


@pytest.mark.parametrize("name", [*book.PER_RUN, *book.CROSS_RUN])
def test_templates_are_clean_and_parameterised(name):
    nb = nbformat.read(str(book.TEMPLATES / f"{name}.ipynb"), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "committed outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    wanted = {"runs", "languages"} if name in book.CROSS_RUN else {"run", "concepts", "languages", "aggregation", "language_order"}
    assigned = {line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line}
    assert wanted <= assigned
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    # thin: no function or class definitions in a notebook; the computation lives in xlc
    assert not any(line.lstrip().startswith(("def ", "class ")) for c in code for line in c.source.splitlines())


def test_hide_parameters_tags_both_parameter_cells():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("x = 2"), nbformat.v4.new_code_cell("x")]
    nb.cells[0].metadata["tags"] = ["parameters"]
    nb.cells[1].metadata["tags"] = ["injected-parameters"]
    book.hide_parameters(nb)
    book.hide_parameters(nb)  # idempotent
    assert [c.metadata["tags"] for c in nb.cells] == [["parameters", "remove-cell"],
                                                       ["injected-parameters", "remove-cell"], []]


def test_inputs_hash_follows_template_parameters_runs_and_source(tmp_path):
    folder = write_run(tmp_path / "r")
    template = book.TEMPLATES / "recognition.ipynb"
    base = book.inputs_hash(template, {"run": "/a"}, [book.folder_hash(folder)], "src")
    assert base == book.inputs_hash(template, {"run": "/elsewhere"}, [book.folder_hash(folder)], "src")
    assert base != book.inputs_hash(template, {"run": "/a", "aggregation": 2}, [book.folder_hash(folder)], "src")
    assert base != book.inputs_hash(template, {"run": "/a"}, [book.folder_hash(folder)], "src2")
    assert base != book.inputs_hash(book.TEMPLATES / "transfer.ipynb", {"run": "/a"}, [book.folder_hash(folder)], "src")
    (folder / "transfer.csv").write_text((folder / "transfer.csv").read_text() + "\n")
    assert base != book.inputs_hash(template, {"run": "/a"}, [book.folder_hash(folder)], "src")
    assert len(book.source_hash()) == 64


def test_recorded_hash_reads_metadata_or_none(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["xlc"] = {"inputs": "abc"}
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    (tmp_path / "broken.ipynb").write_text("{")
    assert book.recorded_hash(tmp_path / "a.ipynb") == "abc"
    assert book.recorded_hash(tmp_path / "broken.ipynb") is None
    assert book.recorded_hash(tmp_path / "missing.ipynb") is None


def test_toc_and_page_names(tmp_path):
    runs = results.load_runs([write_run(tmp_path / "a" / "m"), write_run(tmp_path / "b" / "m"),
                              write_run(tmp_path / "all-runs")])
    names = book.page_names(runs)
    assert len(set(names)) == 3 and book.CROSS_DIR not in names
    toc = yaml.safe_load(book.toc_yaml(runs, names))
    assert toc["format"] == "jb-book" and toc["root"] == "intro"
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert len(files) == 3 * len(book.PER_RUN) + len(book.CROSS_RUN)
    assert f"{names[1]}/transfer" in files and f"{book.CROSS_DIR}/model_size" in files


def test_intro_takes_its_facts_from_run_json(tmp_path):
    folder = write_run(tmp_path / "r", num_parameters=123456, layers=4, model="minilm")
    info = json.loads((folder / "run.json").read_text())
    info["timings"]["total_s"] = 42.0
    (folder / "run.json").write_text(json.dumps(info))
    runs = results.load_runs([folder])
    text = book.intro_markdown(runs, book.page_names(runs))
    assert "123,456 parameters, 4 layers" in text and "took 42 s" in text
    assert "English uncased" in text  # the embedded model's limit
    assert "tests 10 pairs" in text and "written by the xlc team" in text
    assert "python -m xlc run --model" in text


def test_remote_scripts_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.html").write_text('<script src="_static/plotly.min.js"></script><a href="https://x.org">x</a>')
    (tmp_path / "sub" / "bad.html").write_text('<script async src="https://cdn.plot.ly/plotly.js"></script>'
                                               "<link rel=stylesheet href='//fonts.example/x.css'>")
    found = book.remote_scripts(tmp_path)
    assert len(found) == 2 and all(f.startswith("sub/bad.html") for f in found)
