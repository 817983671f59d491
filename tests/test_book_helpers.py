"""xlc.book without a kernel or a browser: templates, hashes, hidden cells, the contents, and the offline
check."""

import nbformat
import pytest
import yaml
from fakerun import write_run

from xlc import book


@pytest.mark.parametrize("name", book.pages())
def test_templates_are_clean_and_parameterised(name):
    nb = nbformat.read(str(book.TEMPLATES / f"{name}.ipynb"), as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), "committed outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1
    assigned = {line.split("=")[0].strip() for line in params[0].source.splitlines() if "=" in line}
    assert assigned == {"runs", "concepts", "languages"}
    body = "\n".join(c.source for c in code[1:])
    for p in assigned:  # no unused parameters
        assert p in body, p
    # the header every page shows comes from one helper
    assert "report.header(rs, concepts, languages)" in code[1].source
    # every code cell's output is shown and its code hidden behind a toggle
    assert all("hide-input" in c.metadata.get("tags", []) for c in code[1:])
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
    base = book.inputs_hash(template, {"runs": ["/a"]}, [book.folder_hash(folder)], "src")
    assert base == book.inputs_hash(template, {"runs": ["/elsewhere"]}, [book.folder_hash(folder)], "src")
    assert base != book.inputs_hash(template, {"runs": ["/a"], "languages": ["en"]}, [book.folder_hash(folder)], "src")
    assert base != book.inputs_hash(template, {"runs": ["/a"]}, [book.folder_hash(folder)], "src2")
    assert base != book.inputs_hash(book.TEMPLATES / "transfer.ipynb", {"runs": ["/a"]}, [book.folder_hash(folder)], "src")
    (folder / "transfer.csv").write_text((folder / "transfer.csv").read_text() + "\n")
    assert base != book.inputs_hash(template, {"runs": ["/a"]}, [book.folder_hash(folder)], "src")
    assert len(book.source_hash()) == 64


def test_recorded_hash_reads_metadata_or_none(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["xlc"] = {"inputs": "abc"}
    nbformat.write(nb, str(tmp_path / "a.ipynb"))
    (tmp_path / "broken.ipynb").write_text("{")
    assert book.recorded_hash(tmp_path / "a.ipynb") == "abc"
    assert book.recorded_hash(tmp_path / "broken.ipynb") is None
    assert book.recorded_hash(tmp_path / "missing.ipynb") is None


def test_the_contents_list_every_template_and_the_hand_written_intro():
    toc = yaml.safe_load((book.SOURCE / "_toc.yml").read_text())
    assert toc["format"] == "jb-book" and toc["root"] == "intro" and (book.SOURCE / "intro.md").is_file()
    files = [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    assert files == [f"{book.GENERATED}/{p}" for p in book.pages()]
    assert sorted(book.pages()) == sorted(p.stem for p in book.TEMPLATES.glob("*.ipynb"))


def test_plan_executes_every_page_with_every_run(tmp_path):
    from xlc import runfolder

    runs = runfolder.read_all([write_run(tmp_path / "a"), write_run(tmp_path / "b")])
    jobs = book.plan(runs, tmp_path / "out")
    assert [j[1].name for j in jobs] == [f"{p}.ipynb" for p in book.pages()]
    assert all(j[2] == {"runs": [str(r.path.resolve()) for r in runs]} for j in jobs)
    assert all(j[1].parent == tmp_path / "out" / book.GENERATED for j in jobs)


def test_remote_scripts_are_found(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "ok.html").write_text('<script src="_static/plotly.min.js"></script><a href="https://x.org">x</a>')
    (tmp_path / "sub" / "bad.html").write_text('<script async src="https://cdn.plot.ly/plotly.js"></script>'
                                               "<link rel=stylesheet href='//fonts.example/x.css'>")
    found = book.remote_scripts(tmp_path)
    assert len(found) == 2 and all(f.startswith("sub/bad.html") for f in found)
