"""``xlc book``: plan, execute and build the book (Jupyter Book 1) for a set of run folders.

Where the book comes from:

- ``book/`` (tracked): the hand-written pages (``intro.md``: what the book is and how to read it) and the
  table of contents (``_toc.yml``), which lists every page;
- ``notebooks/<page>.ipynb`` (tracked): one parameterised notebook per generated page, each setting the
  runs side by side;
- ``book/generated/<page>.ipynb`` (ignored): the notebooks executed by papermill for the runs given;
- ``book/_xlc_static/`` (ignored): plotly.min.js (from the plotly package) and MathJax (committed under
  ``xlc/book_static/``), so that no page loads a script from another host.

The HTML is built by ``jupyter-book build`` with the repository's ``_config.yml`` (execution off) into
``<parent of the book folder>/_build/html``. A notebook is executed again only when its inputs changed:
the template's bytes, its parameters, the bytes of every file of the run folders, and xlc's source; the
hash is kept in the executed notebook's metadata (``xlc.inputs``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tqdm.auto import tqdm

from xlc import runfolder
from xlc.errors import XlcError
from xlc.io import atomic_path

PACKAGE = Path(__file__).resolve().parent
ROOT = PACKAGE.parent
SOURCE = ROOT / "book"
TEMPLATES = ROOT / "notebooks"
CONFIG = ROOT / "_config.yml"
STATIC = PACKAGE / "book_static"
STATIC_DIR = "_xlc_static"  # not "_static": Jupyter Book would load every .js in it, MathJax twice
GENERATED = "generated"
HAND_WRITTEN = ("intro.md", "_toc.yml")
REMOTE_SCRIPT = re.compile(r"""<(?:script|link)\b[^>]*\b(?:src|href)\s*=\s*["']?(?:https?:)?//[^"'\s>]+""", re.I)


def pages(toc: Path = SOURCE / "_toc.yml") -> list[str]:
    """The generated pages the table of contents lists (``generated/<page>``), in its order."""
    text = toc.read_text(encoding="utf-8")
    return re.findall(rf"file:\s*{GENERATED}/([A-Za-z0-9_]+)", text)


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
    through its run folders)."""
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
    h = hashlib.sha256(Path(template).read_bytes())
    stable = {k: v for k, v in params.items() if k != "runs"}
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


def execute(template: Path, output: Path, params: dict, key: str) -> None:
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
        nb.metadata["xlc"] = {"inputs": key, "template": template.name}
        nbformat.write(nb, str(tmp))
        os.replace(tmp, output)
    except pm.PapermillExecutionError as e:
        os.replace(tmp, failed)
        raise XlcError(f"notebook {template.name} failed: {e.ename}: {e.evalue} (cell {e.exec_count}); the executed "
                       f"notebook with the traceback is {failed}") from None
    except Exception as e:  # the kernel died or could not start, ...
        raise XlcError(f"notebook {template.name} failed: {type(e).__name__}: {e}") from None
    finally:
        tmp.unlink(missing_ok=True)
    failed.unlink(missing_ok=True)


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
            futures = [pool.submit(execute, *job) for job in todo]
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


# ---- the book's files ----

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


def plan(runs: list[runfolder.Run], out: Path) -> list[tuple[Path, Path, dict]]:
    """Every notebook to produce: ``(template, output, parameters)``, in the order of the contents."""
    missing = [p for p in pages() if not (TEMPLATES / f"{p}.ipynb").is_file()]
    if missing:
        raise XlcError(f"{TEMPLATES}: no notebook for page(s) {', '.join(missing)} listed in {SOURCE / '_toc.yml'}")
    params = {"runs": [str(r.path.resolve()) for r in runs]}
    return [(TEMPLATES / f"{p}.ipynb", out / GENERATED / f"{p}.ipynb", params) for p in pages()]


def build(runs, out: str | Path = SOURCE, html: bool = True, progress: bool = True) -> Path:
    """Execute the pages for ``runs`` (run folders) under ``out`` (default: the tracked ``book/``; another
    folder gets a copy of its hand-written files) and build the HTML.

    Returns the HTML index (or ``out`` with ``html=False``). Raises XlcError naming the notebook that
    failed, or listing any page that loads a script from another host.
    """
    out = Path(out).resolve()
    loaded = runfolder.read_all(runs)
    if not loaded:
        raise XlcError("xlc book: no run folders given (--runs results/*)")
    if not (SOURCE / "_toc.yml").is_file():
        raise XlcError(f"{SOURCE}: the book's hand-written source is missing; is this an xlc checkout?")
    if out != SOURCE.resolve():
        for name in HAND_WRITTEN:
            _copy_if_changed(SOURCE / name, out / name)
    source = source_hash()
    hashes = [folder_hash(r.path) for r in loaded]
    jobs = plan(loaded, out)
    todo = []
    for template, output, params in jobs:
        key = inputs_hash(template, params, hashes, source)
        if recorded_hash(output) != key:
            todo.append((template, output, params, key))
    _execute_all(todo, progress)
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
