import numpy as np
import pytest
import torch

from xlc.extract import Extractor, last_token_index
from xlc.testing import ARCHITECTURES, tiny_model

TEXTS = ["I returned the wallet.", "a", "我把钱包还给了失主，然后回家了。", "Palautin lompakon omistajalle heti."]


def test_last_token_index_either_side():
    right = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert last_token_index(right).tolist() == [2, 4]
    assert last_token_index(left).tolist() == [4, 4]


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_left_and_right_padding_give_the_same_states(arch):
    model, tok = tiny_model(arch)
    right = Extractor(model, tok, padding_side="right", progress=False)(TEXTS)
    left = Extractor(model, tok, padding_side="left", progress=False)(TEXTS)
    alone = np.concatenate([Extractor(model, tok, batch_size=1, progress=False)([t]) for t in TEXTS])
    assert right.shape == (len(TEXTS), model.config.num_hidden_layers, model.config.hidden_size)
    assert right.dtype == np.float32
    np.testing.assert_allclose(left, right, atol=1e-5)
    np.testing.assert_allclose(right, alone, atol=1e-5)
    # the states differ between texts (no accidental broadcast of one row)
    assert np.abs(right[0] - right[1]).max() > 1e-3


def test_left_padding_really_pads_left_and_gpt2_needs_positions():
    model, tok = tiny_model("gpt2")
    ex = Extractor(model, tok, padding_side="left", progress=False)
    ex._takes_positions = False  # what a naive left-padded call does
    naive = ex(TEXTS)
    right = Extractor(model, tok, padding_side="right", progress=False)(TEXTS)
    assert np.abs(naive - right).max() > 1e-3  # absolute positions shifted by the padding
    assert tok.padding_side == "right"  # the extractor restores the tokenizer's side


def test_states_are_the_last_content_token_of_every_layer():
    model, tok = tiny_model("bert")
    states = Extractor(model, tok, progress=False)(["hello world"])
    enc = tok(["hello world"], return_tensors="pt")
    assert tok.convert_ids_to_tokens(enc["input_ids"][0])[-1] == "[SEP]"
    with torch.no_grad():
        hidden = model(**enc, output_hidden_states=True).hidden_states
    assert len(hidden) == states.shape[1] + 1  # layer 0, the embeddings, is left out
    for layer in range(states.shape[1]):
        np.testing.assert_allclose(states[0, layer], hidden[layer + 1][0, -1].numpy(), atol=1e-6)


def test_mean_rule_averages_content_tokens_only():
    model, tok = tiny_model("llama")
    both = Extractor(model, tok, token="mean", progress=False)(["hi", "a much longer sentence here"])
    alone = Extractor(model, tok, token="mean", progress=False)(["hi"])
    np.testing.assert_allclose(both[0], alone[0], atol=1e-5)
    with pytest.raises(ValueError):
        Extractor(model, tok, token="first")


def test_template_is_applied():
    model, tok = tiny_model("llama")
    plain = Extractor(model, tok, progress=False)(["x y"])
    wrapped = Extractor(model, tok, template="[INST] {input} [/INST] ", progress=False)(["x y"])
    direct = Extractor(model, tok, progress=False)(["[INST] x y [/INST] "])
    np.testing.assert_allclose(wrapped, direct, atol=1e-6)
    assert np.abs(plain - wrapped).max() > 1e-3
