"""``xlc book``: execute the notebooks for run folders and build the HTML book (Jupyter Book 1).

Layout of ``out`` (default ``book/``), the book's source folder:

- ``<run>/<section>.ipynb``  each per-run notebook executed (papermill) for each run
- ``all-runs/<section>.ipynb``  each cross-run notebook executed once over all runs
- ``intro.md``, ``_toc.yml``  generated; rewritten only when their text changes
- ``_xlc_static/``  plotly.min.js (from the plotly package) and MathJax (committed under
  ``xlc/book_static/``), so that no page loads a script from another host

The HTML is built by ``jupyter-book build`` with the repository's ``_config.yml`` (execution off)
into ``<parent of out>/_build/html``. A notebook is re-executed only when its inputs changed: the
template's bytes, its parameters, the bytes of every file of its run folders, and xlc's source; the
hash is kept in the executed notebook's metadata (``xlc.inputs``).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tqdm.auto import tqdm

from xlc import results
from xlc.errors import XlcError
from xlc.io import atomic_path, write_text

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
TEMPLATES = ROOT / "notebooks"
CONFIG = ROOT / "_config.yml"
STATIC = PACKAGE / "book_static"
STATIC_DIR = "_xlc_static"  # not "_static": Jupyter Book would load every .js in it, MathJax twice
CROSS_DIR = "all-runs"

# section -> page title; per-run notebooks run once per run folder, cross-run ones once over all
PER_RUN = {
    "recognition": "Concept recognition",
    "consistency": "Consistency across languages (G.2)",
    "transfer_vs_performance": "Transfer and performance: Table 7 (H.1)",
    "transfer": "Cross-lingual transfer (H.2)",
    "multilinguality": "Multilinguality: Table 8 (H.3)",
    "linguistics": "Consistency and linguistic distance",
}
CROSS_RUN = {"model_size": "Consistency and model size (G.3)"}
REMOTE_SCRIPT = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", re.I)


# ---- what a notebook depends on ----

def _hash_files(h, files, root: Path) -> None:
    for f in sorted(files):
        h.update(str(f.relative_to(root)).encode() + b"\0")
        with open(f, "rb") as fh:
            while block := fh.read(1 << 22):
                h.update(block)
        h.update(b"\0")


def source_hash() -> str:
    """sha256 of xlc's code and reference data (not the bundled values: those reach a notebook only
    through its run folder)."""
    h = hashlib.sha256()
    files = [p for p in PACKAGE.rglob("*") if p.is_file() and p.suffix in (".py", ".csv", ".json")
             and "values" not in p.relative_to(PACKAGE).parts and "__pycache__" not in p.parts]
    _hash_files(h, files, PACKAGE)
    return h.hexdigest()


def folder_hash(folder: Path) -> str:
    """sha256 of the names and bytes of every file under a run folder."""
    folder = Path(folder)
    h = hashlib.sha256()
    _hash_files(h, [p for p in folder.rglob("*") if p.is_file()], folder)
    return h.hexdigest()


def inputs_hash(template: Path, params: dict, run_hashes: list[str], source: str) -> str:
    """The key under which an executed notebook is reused: template bytes, parameters (run folders
    by content, not by path), run-folder hashes and the xlc source hash."""
    import json

    h = hashlib.sha256(Path(template).read_bytes())
    stable = {k: v for k, v in params.items() if k not in ("run", "runs")}
    h.update(json.dumps([stable, run_hashes, source], sort_keys=True).encode())
    return h.hexdigest()


# ---- executing one notebook ----

def recorded_hash(notebook: Path) -> str | None:
    """The inputs hash stored in an executed notebook, or None."""
    import nbformat

    try:
        return nbformat.read(str(notebook), as_version=4).metadata.get("xlc", {}).get("inputs")
    except Exception:  # a missing, truncated or foreign file just means "execute again"
        return None


def hide_parameters(nb) -> None:
    """Tag the parameters cell and papermill's injected one ``remove-cell`` (the book hides them)."""
    for cell in nb.cells:
        tags = cell.metadata.setdefault("tags", [])
        if ("parameters" in tags or "injected-parameters" in tags) and "remove-cell" not in tags:
            tags.append("remove-cell")


def execute(template: Path, output: Path, params: dict, key: str, label: str) -> None:
    """Run ``template`` with ``params`` into ``output`` (atomically); XlcError naming the notebook on failure."""
    import nbformat
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    failed = output.with_suffix(".failed.ipynb")
    tmp = output.with_name(f".{output.stem}.{os.getpid()}.ipynb")
    try:
        pm.execute_notebook(str(template), str(tmp), parameters=params, kernel_name="python3",
                            progress_bar=False, log_output=False, cwd=str(output.parent))
        nb = nbformat.read(str(tmp), as_version=4)
        hide_parameters(nb)
        nb.metadata["xlc"] = {"inputs": key, "template": template.name, "label": label}
        nbformat.write(nb, str(tmp))
        os.replace(tmp, output)
    except pm.PapermillExecutionError as e:
        os.replace(tmp, failed)
        raise XlcError(f"notebook {template.name} failed for {label}: {e.ename}: {e.evalue} "
                       f"(cell {e.exec_count}); the executed notebook with the traceback is {failed}") from None
    except Exception as e:  # the kernel died or could not start, ...
        raise XlcError(f"notebook {template.name} failed for {label}: {type(e).__name__}: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)


# ---- the generated pages ----

def page_names(runs: list[results.Run]) -> list[str]:
    """Folder names of the runs' pages (unique, safe as paths)."""
    out = []
    for r in runs:
        name = re.sub(r"[^A-Za-z0-9._-]+", "-", r.name).strip("-") or "run"
        base, i = name, 2
        while name in out or name == CROSS_DIR:
            name, i = f"{base}-{i}", i + 1
        out.append(name)
    return out


def toc_yaml(runs: list[results.Run], names: list[str]) -> str:
    """The ``_toc.yml`` (jb-book format): the intro, one part per run, one part across runs."""
    import yaml

    parts = [{"caption": f"Run: {r.name} ({r.model})",
              "chapters": [{"file": f"{n}/{s}", "title": t} for s, t in PER_RUN.items()]}
             for r, n in zip(runs, names)]
    parts.append({"caption": "Across runs",
                  "chapters": [{"file": f"{CROSS_DIR}/{s}", "title": t} for s, t in CROSS_RUN.items()]})
    return yaml.safe_dump({"format": "jb-book", "root": "intro", "parts": parts}, sort_keys=False, allow_unicode=True)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        write_text(path, text)


def _copy_if_changed(src: Path, dst: Path) -> None:
    if not dst.is_file() or dst.stat().st_size != src.stat().st_size or dst.read_bytes() != src.read_bytes():
        dst.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(dst) as tmp:
            shutil.copyfile(src, tmp)


def static_files(out: Path) -> None:
    """plotly.min.js and MathJax into ``out/_xlc_static`` (the only scripts the pages load)."""
    import plotly

    _copy_if_changed(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", out / STATIC_DIR / "plotly.min.js")
    for f in (STATIC / "mathjax").rglob("*"):
        if f.is_file():
            _copy_if_changed(f, out / STATIC_DIR / "mathjax" / f.relative_to(STATIC / "mathjax"))


def remote_scripts(html_dir: Path) -> list[str]:
    """``"page: url"`` for every script or stylesheet a built page loads from another host."""
    found = []
    for page in sorted(Path(html_dir).rglob("*.html")):
        for m in REMOTE_SCRIPT.finditer(page.read_text(encoding="utf-8", errors="replace")):
            found.append(f"{page.relative_to(html_dir)}: {m.group(0)}")
    return found


SECTION_GUIDE = {
    "recognition": "can a single direction per layer tell the positive text of a pair from the negative one, "
                   "language by language? Accuracy 0.5 is chance; the grey band is what random directions reach.",
    "consistency": "cosine between the concept vectors of two languages. Near 1: the model uses the same direction "
                   "in both languages; near 0: unrelated directions.",
    "transfer_vs_performance": "Table 7: over ordered language pairs (A, B), does A's vector transfer to B "
                               "(Acc(A→B) ≥ Acc(B)) more often when A is the better-recognised language?",
    "transfer": "Δ = Acc(s→t) − Acc(t): blue cells are sources whose vector recognises the target's pairs at least "
                "as well as the target's own vector. Pick a concept and a layer; hover for the numbers.",
    "multilinguality": "Table 8: for each of the eight shared languages, the share of the others that transfer to it.",
    "linguistics": "are linguistically close languages (lang2vec) also the consistent ones? Pearson r over "
                   "language pairs (Direct) and within each language's row (Split).",
    "model_size": "across the runs: consistency against relative depth, and best-layer consistency against size.",
}


def _run_facts(r: results.Run) -> list[str]:
    i = r.info
    params = f"{i['num_parameters']:,}" if i.get("num_parameters") else "unknown"
    langs = {c: ", ".join(ls) for c, ls in i["languages"].items()}
    by_langs: dict[str, list[str]] = {}
    for c, ls in langs.items():
        by_langs.setdefault(ls, []).append(c)
    pairs = sorted({n for c in i["pairs"].values() for n in c.values()})
    data = "the bundled data set" if i.get("data_bundled") else f"`{i.get('data')}`"
    facts = [
        f"model `{i['model']}` ({i.get('model_source')}), {params} parameters, {i['num_layers']} layers, "
        f"hidden size {i.get('hidden_size')}; family: {i.get('family') or 'none (not one of the paper’s)'}",
        f"prompt template {i.get('template_name')!s} (`{i.get('template')}`), token: {i.get('token')}, "
        f"concept vectors: {i.get('method')}, {i.get('baseline_directions')} random directions for the baseline",
        f"data: {data} (sha256 {str(i.get('data_hash'))[:12]}…), {', '.join(map(str, pairs))} pairs per "
        f"concept and language, {i.get('dropped_pair_count', 0)} dropped (positive = negative); "
        f"{round(100 * i.get('test_size', 0))} % held out for testing (seed {i.get('seed')})",
    ] + [f"{', '.join(cs)}: {ls}" for ls, cs in by_langs.items()]
    counts = i.get("counts", {})
    facts.append(f"xlc {i.get('xlc_version')}, torch {i.get('versions', {}).get('torch')}, transformers "
                 f"{i.get('versions', {}).get('transformers')}; the run took {i.get('timings', {}).get('total_s', 0):.0f} s"
                 + (f" ({counts.get('texts_forwarded', 0):,} texts through the model, {counts.get('cache_hits', 0)} "
                    f"(concept, language) sets of hidden states from the activation cache)" if counts else ""))
    return facts


def _limits(r: results.Run) -> list[str]:
    i, out = r.info, []
    if i["model"] in ("minilm", "minilm-random"):
        out.append(f"`{i['model']}` is all-MiniLM-L6-v2{' with its weights re-initialised at random (seed ' + str(i.get('seed')) + '): a control that shows what an untrained network of the same shape and tokenizer gives' if i['model'] == 'minilm-random' else ''}: "
                   "a small English sentence encoder with an English uncased WordPiece vocabulary. Most Chinese "
                   "characters and most Tamil or Telugu words become `[UNK]`, so non-English results measure "
                   "what survives tokenisation, not a multilingual model.")
    n_test = r.transfer[r.transfer.source == r.transfer.target].n_test
    if len(n_test):
        lo, hi = int(n_test.min()), int(n_test.max())
        out.append(f"`{r.name}` tests {lo if lo == hi else f'{lo} to {hi}'} pairs per concept and language: one pair "
                   f"moves an accuracy by {1 / hi:.3f} or more, so small differences are noise.")
    return out


def intro_markdown(runs: list[results.Run], names: list[str]) -> str:
    """The book's first page; every fact about a run is read from its run.json."""
    lines = ["# Value concepts across languages", "",
             "This book reads value concepts (morality, deontology, utilitarianism, fairness, truthfulness, "
             "toxicity, harmfulness) out of a language model's hidden states in several languages, and compares "
             "them across languages, following Xu et al. 2024, *Exploring Multilingual Concepts of Human Value in "
             "Large Language Models* (Findings of EMNLP 2024). For each concept and language, the concept vector "
             "at a layer is the mean hidden state of the positive texts minus that of the negative ones "
             "(training pairs); it *recognises* a test pair when the positive text projects higher than the "
             "negative one. Every number and figure in it was computed by `xlc run` and the notebooks below; "
             "the paper's published figures appear beside them, labelled as the paper's.", "",
             "## How to read each section", ""]
    lines += [f"- **{t}**: {SECTION_GUIDE[s]}" for s, t in {**PER_RUN, **CROSS_RUN}.items()]
    lines += ["", "Each page starts from the run's files and says in a few sentences what its numbers mean; the "
              "code of each figure is one click away (“Show code cell source”).", "", "## What this build used", ""]
    for r, n in zip(runs, names):
        lines += [f"### Run `{r.name}` ({n}/)", ""] + [f"- {f}" for f in _run_facts(r)] + [""]
    lines += ["## Limits", "",
              "- The bundled data set is the xlc project's own, written by the xlc team in the paper's MVALUE "
              "layout (English pairs, translated into the other languages); it is small and is not the paper's "
              "data, so its numbers are not the paper's numbers."]
    lines += [f"- {x}" for r in runs for x in _limits(r)]
    lines += ["", "## Rebuilding it for another model", "", "```bash",
              "python -m xlc run --model bigscience/bloomz-560m --out results/bloomz-560m   # any Hugging Face id or folder",
              "python -m xlc book --runs results/* --out book/                              # HTML in _build/html",
              "```", "", "`make book` does the same for the embedded default (`minilm`) and its untrained control "
              "(`minilm-random`). Only notebooks whose inputs changed are executed again.", ""]
    return "\n".join(lines)


# ---- the whole build ----

def plan(runs: list[results.Run], out: Path) -> list[tuple[Path, Path, dict, list[Path], str]]:
    """Every notebook to produce: ``(template, output, parameters, run folders, label)``."""
    names = page_names(runs)
    jobs = []
    for r, n in zip(runs, names):
        for s in PER_RUN:
            jobs.append((TEMPLATES / f"{s}.ipynb", out / n / f"{s}.ipynb", {"run": str(r.path.resolve())},
                         [r.path], f"run {r.path}"))
    for s in CROSS_RUN:
        jobs.append((TEMPLATES / f"{s}.ipynb", out / CROSS_DIR / f"{s}.ipynb",
                     {"runs": [str(r.path.resolve()) for r in runs]}, [r.path for r in runs], "all runs"))
    return jobs


def _execute_all(todo: list, progress: bool, workers: int | None = None) -> None:
    """Execute notebooks two at a time (a kernel spends much of its time importing); the first
    failure cancels the rest and is raised."""
    from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

    if not todo:
        return
    env = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env] if env else []))  # kernels import this xlc
    bar = tqdm(total=len(todo), desc="notebooks", unit="nb", disable=not progress)
    try:
        with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
            futures = {pool.submit(execute, *job): job for job in todo}
            for f in futures:
                f.add_done_callback(lambda f: bar.update(1))
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in futures:  # in plan order: the first failing notebook is reported
                if f.done() and not f.cancelled() and f.exception():
                    raise f.exception()
    finally:
        bar.close()
        if env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env


def build(runs, out="book", html: bool = True, progress: bool = True) -> Path:
    """Execute the notebooks for ``runs`` (run folders) under ``out`` and build the HTML.

    Returns the HTML index (or ``out`` with ``html=False``). Raises XlcError naming the notebook that
    failed, or listing any page that loads a script from another host.
    """
    out = Path(out).resolve()
    loaded = results.load_runs(runs)
    if not loaded:
        raise XlcError("xlc book: no run folders given (--runs results/*)")
    for t in [*PER_RUN, *CROSS_RUN]:
        if not (TEMPLATES / f"{t}.ipynb").is_file():
            raise XlcError(f"{TEMPLATES / (t + '.ipynb')}: notebook template missing; is this an xlc checkout?")
    out.mkdir(parents=True, exist_ok=True)
    source = source_hash()
    hashes = {p: folder_hash(p) for p in {r.path for r in loaded}}
    jobs = plan(loaded, out)
    todo = []
    for template, output, params, folders, label in jobs:
        key = inputs_hash(template, params, [hashes[f] for f in folders], source)
        if recorded_hash(output) != key:
            todo.append((template, output, params, key, label))
    _execute_all(todo, progress)
    names = page_names(loaded)
    _write_if_changed(out / "_toc.yml", toc_yaml(loaded, names))
    _write_if_changed(out / "intro.md", intro_markdown(loaded, names))
    static_files(out)
    if progress:
        print(f"xlc book: {len(todo)} notebook(s) executed, {len(jobs) - len(todo)} unchanged", file=sys.stderr)
    if not html:
        return out
    return build_html(out, progress)


def build_html(out: Path, progress: bool = True) -> Path:
    """``jupyter-book build`` of ``out`` into ``out.parent/_build/html``; returns its index.html."""
    if not CONFIG.is_file():
        raise XlcError(f"{CONFIG}: the book's configuration is missing; is this an xlc checkout?")
    jb = Path(sys.executable).parent / "jupyter-book"
    cmd = [str(jb) if jb.exists() else "jupyter-book", "build", str(out), "--config", str(CONFIG),
           "--toc", str(out / "_toc.yml"), "--path-output", str(out.parent), "-q"]
    if progress:
        print("xlc book: building HTML (jupyter-book)", file=sys.stderr)
    proc = subprocess.run(cmd, capture_output=True, text=True)
    html_dir = out.parent / "_build" / "html"
    if proc.returncode != 0 or not (html_dir / "index.html").is_file():
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise XlcError(f"jupyter-book build {out} failed (exit {proc.returncode}):\n{tail}")
    remote = remote_scripts(html_dir)
    if remote:
        raise XlcError("pages load scripts from another host (the book must work offline):\n" + "\n".join(remote[:20]))
    return html_dir / "index.html"
