import numpy as np
import pytest
import torch

from xlc.errors import XlcError
from xlc.steer import decoder_blocks, generate, steer
from xlc.testing import tiny_model


@pytest.mark.parametrize("arch", ["llama", "qwen2", "bloom", "gpt2"])
def test_steering_shifts_exactly_the_chosen_layer_and_cleans_up(arch):
    model, tok = tiny_model(arch, causal_lm=True)
    enc = tok(["hello world"], return_tensors="pt")
    with torch.no_grad():
        before = model(**enc, output_hidden_states=True).hidden_states
        v = np.linspace(-1, 1, model.config.hidden_size).astype(np.float32)
        with steer(model, {1: v}, alpha=2.0):
            during = model(**enc, output_hidden_states=True).hidden_states
        after = model(**enc, output_hidden_states=True).hidden_states
    # the recorded state of the steered layer itself is shifted (prepend=True), the embeddings are not
    np.testing.assert_allclose((during[1] - before[1])[0].numpy(), np.tile(2 * v, (enc["input_ids"].shape[1], 1)),
                               atol=1e-5)
    torch.testing.assert_close(during[0], before[0])
    assert not torch.allclose(during[2], before[2])  # and it propagates
    for a, b in zip(after, before):  # hooks removed
        torch.testing.assert_close(a, b)


def test_hooks_removed_even_on_error():
    model, _ = tiny_model("llama", causal_lm=True)
    blocks = decoder_blocks(model)
    with pytest.raises(RuntimeError):
        with steer(model, {1: np.ones(32)}, 1.0):
            raise RuntimeError("boom")
    assert all(len(b._forward_hooks) == 0 for b in blocks)
    with pytest.raises(XlcError, match="layers 1..2"):
        with steer(model, {3: np.ones(32)}):
            pass


def test_generate_steered_differs_and_unsteered_is_plain():
    model, tok = tiny_model("gpt2", causal_lm=True)
    v = np.random.default_rng(0).standard_normal(32)  # not constant: a LayerNorm would erase that
    plain = generate(model, tok, ["hello", "我把"], max_new_tokens=5)
    again = generate(model, tok, ["hello", "我把"], {1: v}, alpha=0.0, max_new_tokens=5)
    pushed = generate(model, tok, ["hello", "我把"], {1: v}, alpha=50.0, max_new_tokens=5)
    assert plain == again and len(plain) == 2
    assert pushed != plain


def test_vectors_from_a_run(tiny_dirs, dataset, tmp_path):
    from xlc import runfolder
    from xlc.runner import RunConfig, run

    out = runfolder.read(run(RunConfig(model=str(tiny_dirs["llama"]), data=str(dataset), out=str(tmp_path / "r"),
                                       progress=False, log=None, chance_directions=0, bootstrap=0)))
    v = out.vectors("morality", "en")
    assert v.shape == (2, 32) and np.abs(v).sum() > 0
    with pytest.raises(XlcError, match="no vectors for 'morality/xx'"):
        out.vectors("morality", "xx")


def test_steer_command(tiny_dirs, dataset, tmp_path, capsys):
    from xlc.cli import main

    out = tmp_path / "r"
    assert main(["run", "--quiet", "--model", str(tiny_dirs["llama"]), "--data", str(dataset), "--out", str(out),
                 "--bootstrap", "0"]) == 0
    capsys.readouterr()
    code = main(["steer", "--run", str(out), "--concept", "morality", "--source", "en", "--layer", "1",
                 "--alpha", "30", "--prompt", "hello", "我把", "--max-new-tokens", "4"])
    text = capsys.readouterr().out
    assert code == 0 and text.count("prompt:") == 2 and text.count("steered:") == 2
    assert main(["steer", "--run", str(out), "--concept", "morality", "--layer", "9", "--prompt", "x"]) == 2
    assert "--layer 9" in capsys.readouterr().err
