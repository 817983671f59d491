import shutil

import pytest

from xlc import models
from xlc.errors import XlcError
from xlc.runner import RunConfig, run


def test_local_folder_resolves_with_identity(tiny_dirs):
    spec = models.resolve(str(tiny_dirs["gpt2"]))
    assert spec.source == "local" and spec.path == tiny_dirs["gpt2"].resolve()
    assert set(spec.identity) >= {"weights", "config", "tokenizer"}
    model, tok = models.load(spec)
    assert tok.pad_token is not None
    bert, _ = models.load(models.resolve(str(tiny_dirs["bert"])))
    assert bert.config.model_type == "bert" and not bert.training


def test_hub_id_is_read_from_the_local_hub_cache_offline(tiny_dirs, tmp_path, monkeypatch):
    """The real hub code path (snapshot_download), served from a local HF cache with no network."""
    import huggingface_hub.constants as C

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--someorg--tiny-llama"
    shutil.copytree(tiny_dirs["llama"], repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(C, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(C, "HF_HUB_OFFLINE", True)
    spec = models.resolve("someorg/tiny-llama")
    assert spec.source == "hub" and spec.revision == commit
    assert spec.identity["hub"] == f"someorg/tiny-llama@{commit}"
    with pytest.raises(XlcError, match="--model someorg/absent"):
        models.resolve("someorg/absent")


def test_templates():
    assert models.template_for("llama2-chat") == "[INST] {input} [/INST] "
    assert models.apply_template(models.template_for("llama2-chat"), "Hi.") == "[INST] Hi. [/INST] "
    assert models.template_for("Q: {input} A:") == "Q: {input} A:"
    with pytest.raises(XlcError, match="--template"):
        models.template_for("alpaca")
    with pytest.raises(XlcError, match="no chat template"):
        models.template_for("chat", tokenizer=None)


def test_chat_template_from_tokenizer():
    from xlc.testing import byte_tokenizer

    tok = byte_tokenizer()
    tok.chat_template = "{% for m in messages %}<|user|>{{ m['content'] }}{% endfor %}<|assistant|>"
    assert models.template_for("chat", tok) == "<|user|>{input}<|assistant|>"


def test_paper_families():
    assert models.family_of("meta-llama/Llama-2-13b-chat-hf") == "llama2-chat"
    assert models.family_of("bigscience/bloomz-560m") == "bloomz"
    assert models.family_of("gpt2") is None
    assert set(models.family("bloomz")["excluded_languages"]) == {"ja", "ko", "fi", "hu"}
    with pytest.raises(XlcError, match="--family"):
        models.family("gpt")


def test_family_exclusions_and_template_apply(tiny_dirs, tmp_path):
    from conftest import record, write_dataset

    data = write_dataset(tmp_path / "d", concepts=["morality"], langs=["en", "sw", "zh"])
    out = run(RunConfig(model=str(tiny_dirs["llama"]), data=str(data), family="llama2-chat", out=str(tmp_path / "r"),
                        progress=False, log=None, chance_directions=0, bootstrap=0))
    rec = record(out)
    assert rec["languages"]["morality"] == ["en", "zh"]  # LLaMA2 left out sw
    assert rec["template"] == "[INST] {input} [/INST] " and rec["family"] == "llama2-chat"
    out = run(RunConfig(model=str(tiny_dirs["llama"]), data=str(data), family="none", out=str(tmp_path / "s"),
                        progress=False, log=None, chance_directions=0, bootstrap=0))
    assert record(out)["languages"]["morality"] == ["en", "zh", "sw"]


def test_embedded_default_resolves_without_network():
    spec = models.resolve("minilm")
    assert spec.source == "embedded" and (spec.path / "model.safetensors").is_file()
    assert models.count_parameters(spec.path) > 20_000_000
    rand = models.resolve("minilm-random", seed=3)
    assert rand.source == "random-init" and rand.identity["random_init_seed"] == 3
    assert "weights" not in rand.identity and rand.identity != spec.identity
