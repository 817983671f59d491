"""Tiny random models and a byte-level tokenizer, built locally in milliseconds.

For tests, and for trying xlc without downloading weights: ``tiny_model("llama")`` returns a
2-layer, 32-wide random Llama with a tokenizer that handles every script (byte-level BPE, never
``<unk>``). ``save_tiny`` writes one as a Hugging Face folder that ``xlc run --model DIR`` loads.
"""

from __future__ import annotations

from pathlib import Path

ARCHITECTURES = ("llama", "qwen2", "bloom", "gpt2", "bert")
_CORPUS = [
    "I returned the wallet to its owner.", "I kept the wallet and spent the money.",
    "Question: What is water made of? Answer: Hydrogen and oxygen.",
    "我把钱包还给了失主。", "J'ai rendu le portefeuille à son propriétaire.", "Devolví la cartera a su dueño.",
    "Tôi đã trả lại ví cho chủ nhân.", "財布を持ち主に返しました。", "지갑을 주인에게 돌려주었다.",
    "நான் பணப்பையை உரிமையாளரிடம் திருப்பிக் கொடுத்தேன்.", "నేను పర్సును యజమానికి తిరిగి ఇచ్చాను.",
    "Nilirudisha pochi kwa mwenyewe.", "Palautin lompakon omistajalle.", "Visszaadtam a pénztárcát.",
]


def byte_tokenizer(arch: str = "llama", corpus: list[str] | None = None):
    """A byte-level BPE tokenizer wrapped as ``PreTrainedTokenizerFast``.

    Decoders get ``<s>`` prepended (Llama style) except GPT-2; ``bert`` gets ``[CLS] ... [SEP]``
    so that its last content token is ``[SEP]``, as in a real BERT.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    if arch == "bert":
        specials = {"pad_token": "[PAD]", "bos_token": "[CLS]", "eos_token": "[SEP]", "unk_token": "[UNK]"}
    else:
        specials = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=list(specials.values()),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus or _CORPUS, trainer)
    bos, eos = specials["bos_token"], specials["eos_token"]
    if arch == "bert":
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A {eos}", special_tokens=[(bos, tok.token_to_id(bos)), (eos, tok.token_to_id(eos))])
    elif arch != "gpt2":
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", special_tokens=[(bos, tok.token_to_id(bos))])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, **specials)
    fast.padding_side = "right"
    return fast


def tiny_config(arch: str, tokenizer, hidden: int = 32, layers: int = 2, heads: int = 4):
    from transformers import BertConfig, BloomConfig, GPT2Config, LlamaConfig, Qwen2Config

    ids = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
               bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
    if arch == "llama":
        return LlamaConfig(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, num_key_value_heads=heads, max_position_embeddings=256,
                           architectures=["LlamaForCausalLM"], **ids)
    if arch == "qwen2":
        return Qwen2Config(hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=layers,
                           num_attention_heads=heads, num_key_value_heads=2, max_position_embeddings=256,
                           architectures=["Qwen2ForCausalLM"], **ids)
    if arch == "bloom":
        return BloomConfig(hidden_size=hidden, n_layer=layers, n_head=heads, architectures=["BloomForCausalLM"], **ids)
    if arch == "gpt2":
        return GPT2Config(n_embd=hidden, n_layer=layers, n_head=heads, n_positions=256,
                          architectures=["GPT2LMHeadModel"], **ids)
    if arch == "bert":
        return BertConfig(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
                          intermediate_size=2 * hidden, max_position_embeddings=256,
                          architectures=["BertModel"], **ids)
    raise ValueError(f"unknown architecture {arch!r}; use one of {', '.join(ARCHITECTURES)}")


def tiny_model(arch: str = "llama", seed: int = 0, causal_lm: bool = False, **size):
    """``(model, tokenizer)``: a random model of ``arch`` in eval mode, float32, on the CPU."""
    import torch
    from transformers import AutoModel, AutoModelForCausalLM

    tokenizer = byte_tokenizer(arch)
    config = tiny_config(arch, tokenizer, **size)
    torch.manual_seed(seed)
    auto = AutoModelForCausalLM if causal_lm and arch != "bert" else AutoModel
    model = auto.from_config(config).eval()
    return model, tokenizer


def save_tiny(arch: str, folder: str | Path, seed: int = 0, **size) -> Path:
    """Write a tiny random ``arch`` model (with its LM head) and tokenizer as a Hugging Face folder."""
    model, tokenizer = tiny_model(arch, seed=seed, causal_lm=True, **size)
    folder = Path(folder)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
