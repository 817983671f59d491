"""Bad input on the command line: exit non-zero, one line naming the file or option and the fix,
nothing half-written left behind."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import record

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
                                  "missing_language_file", "no_model_path", "remote_code", "bad_split", "repeated_id",
                                  "no_cuda", "bad_protocol_split", "two_folds", "negative_chance", "repeated_language",
                                  "all_collapsed", "no_training_items"])
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
    elif case == "repeated_id":  # JSON keeps the last copy of a repeated key: an item would vanish silently
        path = dataset / "morality" / "morality_zh.json"
        text = path.read_text()
        path.write_text(text.replace('"01": {', '"01": {"pos": "甲", "neg": "乙"}, "01": {', 1))
        expect = [str(path), "'01' appears twice"]
    elif case == "no_cuda":
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
        args += ["--device", "cuda"]
        expect = ["--device cuda", "no CUDA device", "--device cpu"]
    elif case == "bad_protocol_split":
        split = tmp_path / "split.json"
        split.write_text('{"morality": {"folds": [["g0|00"], ["g0|00"], ["g1|01"]]}}')
        args += ["--split", str(split)]
        expect = [str(split), "in two folds"]
    elif case == "two_folds":
        args += ["--folds", "2"]
        expect = ["--folds 2", "at least 3 folds"]
    elif case == "negative_chance":
        args += ["--chance-directions", "-1"]
        expect = ["--chance-directions"]
    elif case == "repeated_language":
        args += ["--langs", "en", "fr", "en"]
        expect = ["--langs", "en given more than once"]
    elif case == "all_collapsed":
        path = edit(dataset, "morality", "fr", lambda r: [it.update(neg=it["pos"]) for g in r.values() for it in g.values()])
        expect = [str(path), "no pair left"]
    elif case == "no_training_items":
        split = tmp_path / "split.json"  # French has only the items of the first fold
        keys = [f"g{i % 3}|{i:02d}" for i in range(20)]
        split.write_text(json.dumps({c: {"folds": [keys[:5], keys[5:12], keys[12:]]}
                                     for c in ("morality", "deontology", "truthfulness")}))
        path = edit(dataset, "morality", "fr", lambda r: [g.pop(k) for g in r.values() for k in list(g)
                                                             if f"{k}" not in {x.split("|")[1] for x in keys[:5]}])
        args += ["--split", str(split)]
        expect = [str(path), "nothing is left to fit"]
    code, err = run_cli(args, capsys)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("xlc: error: "), err
    for piece in expect:
        assert piece in err[0], (piece, err[0])
    assert not out.exists()  # nothing half-written


def test_successful_run_writes_every_file(dataset, tiny_dirs, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(["run", "--quiet", "--data", str(dataset), "--model", str(tiny_dirs["bloom"]), "--out", str(out),
                 "--concepts", "morality", "--langs", "en", "zh", "--bootstrap", "20"])
    assert code == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["baseline.csv", "bootstrap.npz", "consistency.csv", "cross_concept.csv", "outcomes.npz", "run.json",
                     "selected.csv", "split.json", "transfer.csv", "vectors.safetensors"]
    rec = record(out)
    assert rec["languages"] == {"morality": ["en", "zh"]} and rec["num_layers"] == 2
    assert rec["data_hash"] and rec["model_identity"]["weights"] and rec["versions"]["torch"]
    assert rec["protocol"] == "cv" and rec["folds"] == 5 and rec["bootstrap"] == 20 and rec["tied_pairs"] == {"morality": {}}


def test_help_lists_the_options():
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run([sys.executable, "-m", "xlc", "run", "--help"], capture_output=True, text=True, timeout=120,
                          cwd=root)
    assert proc.returncode == 0
    for opt in ["--model", "--data", "--concepts", "--langs", "--method", "--out", "--template", "--family", "--protocol",
                "--folds", "--bootstrap"]:
        assert opt in proc.stdout


def test_check_command_reports_surface_cues_and_fails_on_them(tmp_path, capsys):
    """`xlc check DIR` prints each file's figures and exits 1 on a length imbalance or a one-sided word."""
    folder = tmp_path / "data" / "fairness"
    folder.mkdir(parents=True)
    items = {"g": {str(i): {"pos": f"The judge heard both sides of case {i} and ruled by the law.",
                            "neg": f"The judge took a large bribe in case {i} and then ruled anyway, sadly."}
                   for i in range(12)}}
    (folder / "fairness_en.json").write_text(json.dumps(items))
    assert main(["check", str(tmp_path / "data"), "--fast"]) == 1
    out = capsys.readouterr().out
    assert "fairness/fairness_en.json" in out and "negative side is longer in 100%" in out
    assert "'bribe' is in 100% of the neg texts" in out
    balanced = {"g": {str(i): {"pos": f"The judge heard case {i} and ruled by law.", "neg": f"The judge sold case {i} to a friend."}
                      if i % 2 else {"pos": f"The judge heard all of case {i} and then ruled by law.",
                                     "neg": f"The judge sold case {i} to the richer man."} for i in range(12)}}
    (folder / "fairness_en.json").write_text(json.dumps(balanced))
    code = main(["check", str(tmp_path / "data")])
    out = capsys.readouterr().out
    assert "length" not in out.split("\n")[0] or True
    assert ("all checks passed" in out) == (code == 0)
