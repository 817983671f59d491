"""Bad input on the command line: exit non-zero, one line naming the file or option and the fix,
nothing half-written left behind."""

import json
import subprocess
from pathlib import Path
import sys

import pytest

from xlc.cli import main


def run_cli(args, capsys):
    code = main(["run", "--quiet", *args])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err


def edit(dataset, concept, lang, mutate):
    path = dataset / concept / f"{concept}_{lang}.json"
    raw = json.loads(path.read_text())
    mutate(raw)
    path.write_text(json.dumps(raw, ensure_ascii=False))
    return path


@pytest.mark.parametrize("case", ["malformed", "missing_field", "empty_field", "unknown_concept", "unknown_language",
                                  "missing_language_file", "no_model_path", "remote_code", "bad_split"])
def test_bad_input_one_clear_line(case, dataset, tiny_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["--data", str(dataset), "--model", str(tiny_dirs["llama"]), "--out", str(out)]
    expect = []
    if case == "malformed":
        path = dataset / "morality" / "morality_fr.json"
        path.write_text(path.read_text()[:-20])
        expect = [str(path), "invalid JSON"]
    elif case == "missing_field":
        path = edit(dataset, "truthfulness", "zh", lambda r: r["g1"]["01"].pop("question"))
        expect = [str(path), "'g1|01'", "'question' is missing"]
    elif case == "empty_field":
        path = edit(dataset, "deontology", "en", lambda r: r["g2"]["02"].update(neg=""))
        expect = [str(path), "'g2|02'", "'neg' is empty"]
    elif case == "unknown_concept":
        args += ["--concepts", "morality", "honesty"]
        expect = ["'honesty'", "--concepts", "found: deontology, morality, truthfulness"]
    elif case == "unknown_language":
        args += ["--langs", "en", "xx"]
        expect = ["'xx'", "--langs", "found: en, zh, fr"]
    elif case == "missing_language_file":
        (dataset / "deontology" / "deontology_fr.json").unlink()
        args += ["--langs", "en", "fr"]
        expect = ["deontology_fr.json", "not found", "--langs"]
    elif case == "no_model_path":
        args[3] = str(tmp_path / "nowhere")
        expect = ["--model", "nowhere", "no such folder"]
    elif case == "remote_code":
        cfg = tiny_dirs["llama"] / "config.json"
        folder = tmp_path / "remote"
        folder.mkdir()
        raw = json.loads(cfg.read_text())
        raw["auto_map"] = {"AutoModel": "modeling_x.XModel"}
        (folder / "config.json").write_text(json.dumps(raw))
        args[3] = str(folder)
        expect = ["--trust-remote-code"]
    elif case == "bad_split":
        split = tmp_path / "split.json"
        split.write_text('{"morality": {"train": ["g0|00"], "test": ["g0|01"]}}')
        args += ["--split", str(split)]
        expect = [str(split), "no split for concept(s) deontology, truthfulness"]
    code, err = run_cli(args, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("xlc: error: "), err
    for piece in expect:
        assert piece in err[0], (piece, err[0])
    assert not out.exists()  # nothing half-written


def test_successful_run_writes_every_file(dataset, tiny_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--quiet", "--data", str(dataset), "--model", str(tiny_dirs["bloom"]), "--out", str(out),
                 "--concepts", "morality", "--langs", "en", "zh"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["baseline.csv", "consistency.csv", "outcomes.npz", "run.json", "split.json", "transfer.csv",
                     "vectors.safetensors"]
    rec = json.loads((out / "run.json").read_text())
    assert rec["languages"] == {"morality": ["en", "zh"]} and rec["num_layers"] == 2
    assert rec["data_hash"] and rec["model_identity"]["weights"] and rec["versions"]["torch"]


def test_help_lists_the_options():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "xlc", "run", "--help"], capture_output=True, text=True, timeout=120,
                          cwd=root)
    assert proc.returncode == 0
    for opt in ["--model", "--data", "--concepts", "--langs", "--method", "--out", "--template", "--family"]:
        assert opt in proc.stdout
